"""Emergency access: break the glass on a case; the auditors' review queue."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.cases import emergency as service
from app.cases.dependencies import (
    CaseGrantReader,
    CaseId,
    EmergencyAccessReader,
    EmergencyAccessReviewer,
    EmergencyRequester,
)
from app.cases.schemas import EmergencyAccessCreate, EmergencyGrantRead, EmergencyReview
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["cases"])


@router.post(
    "/cases/{case_id}/emergency-access", response_model=EmergencyGrantRead, status_code=201
)
async def request_emergency_access(
    case_id: CaseId,
    body: EmergencyAccessCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    outsider: EmergencyRequester,
    idempotency: Idempotency,
    response: Response,
) -> EmergencyGrantRead:
    """Read access to a case you are not a member of, for 60 minutes, with a written reason.

    Audited as an emergency override; every access under the grant is tagged
    with its id; the case's leads see it; an auditor reviews it.
    """

    principal = outsider.principal

    async def create() -> tuple[EmergencyGrantRead, uuid.UUID]:
        grant = await service.grant_access(
            session, keyring, principal, await outsider(case_id), body
        )
        set_created(response, grant.version, f"/api/v1/emergency-access/{grant.id}")
        return await service.to_read(session, keyring, grant), grant.id

    async def reread(target_id: str) -> EmergencyGrantRead:
        grant = await service.own_grant(session, principal, case_id, uuid.UUID(target_id))
        return tagged(
            response, grant.version, await service.read_grant(session, keyring, principal, grant)
        )

    return await create_once(
        idempotency, session, principal, body, response, "emergency_grant", create, reread
    )


@router.get("/cases/{case_id}/emergency-access", response_model=list[EmergencyGrantRead])
async def list_case_emergency_access(
    session: SessionDep, keyring: KeyRingDep, access: CaseGrantReader
) -> list[EmergencyGrantRead]:
    """Emergency grants on this case (its leads and team coordinator)."""
    return await service.to_reads(session, keyring, await service.grants_of_case(session, access))


@router.get("/emergency-access", response_model=Page[EmergencyGrantRead])
async def list_emergency_access(
    session: SessionDep,
    keyring: KeyRingDep,
    principal: EmergencyAccessReader,
    reviewed: bool | None = None,
    case_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[EmergencyGrantRead]:
    """The auditors' review queue (``reviewed=false`` for the open ones), newest first."""
    items, nxt = await service.list_grants(
        session, principal, reviewed=reviewed, case_id=case_id, cursor=cursor, limit=limit
    )
    reads = await service.to_reads(session, keyring, items)
    return Page[EmergencyGrantRead](items=reads, next_cursor=nxt)


@router.get("/emergency-access/{grant_id}", response_model=EmergencyGrantRead)
async def get_emergency_access(
    grant_id: uuid.UUID,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: EmergencyAccessReader,
    response: Response,
) -> EmergencyGrantRead:
    """One emergency access grant: who, which case, why and until when."""
    grant = await service.get_grant(session, principal, grant_id)
    return tagged(
        response, grant.version, await service.read_grant(session, keyring, principal, grant)
    )


@router.post("/emergency-access/{grant_id}/review", response_model=EmergencyGrantRead)
async def review_emergency_access(
    grant_id: uuid.UUID,
    body: EmergencyReview,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: EmergencyAccessReviewer,
    expected: IfMatch,
    response: Response,
) -> EmergencyGrantRead:
    """Mark a grant reviewed, with a finding (If-Match: the grant's ETag)."""
    grant = await service.get_grant(session, principal, grant_id)
    grant = await service.review_grant(session, keyring, principal, grant, body, expected)
    return tagged(response, grant.version, await service.to_read(session, keyring, grant))

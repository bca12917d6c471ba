"""Must-not-receive routes: parties who must never get this case's information."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.cases import exclusions as service
from app.cases.dependencies import CaseExclusionReader, CaseExclusionWriter
from app.cases.schemas import ExclusionCreate, ExclusionRead
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["cases"])
BASE = "/cases/{case_id}/must-not-receive"


@router.get(BASE, response_model=list[ExclusionRead])
async def list_exclusions(
    session: SessionDep, keyring: KeyRingDep, access: CaseExclusionReader
) -> list[ExclusionRead]:
    """Everyone who must not receive this case's information, with the reasons."""
    rows = await service.list_exclusions(session, access)
    return await service.reads(session, keyring, access, rows)


@router.post(BASE, response_model=ExclusionRead, status_code=201)
async def add_exclusion(
    body: ExclusionCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseExclusionWriter,
    idempotency: Idempotency,
    response: Response,
) -> ExclusionRead:
    """Put a person or an organisation on the list. Members from an excluded
    organisation cannot be admitted, and no later notification, document or
    referral may reach the party."""

    async def create() -> tuple[ExclusionRead, uuid.UUID]:
        entry = await service.add_exclusion(session, keyring, access, body)
        set_created(
            response, entry.version, f"/api/v1/cases/{access.case.id}/must-not-receive/{entry.id}"
        )
        return (await service.reads(session, keyring, access, [entry]))[0], entry.id

    async def reread(target_id: str) -> ExclusionRead:
        entry = await service.get_exclusion(
            session, access, uuid.UUID(target_id), Action.CASE_EXCLUSION_READ
        )
        return tagged(
            response, entry.version, (await service.reads(session, keyring, access, [entry]))[0]
        )

    return await create_once(
        idempotency, session, access.principal, body, response, "case_exclusion", create, reread
    )


@router.delete(BASE + "/{exclusion_id}", status_code=204, response_class=Response)
async def remove_exclusion(
    exclusion_id: uuid.UUID, session: SessionDep, access: CaseExclusionWriter, expected: IfMatch
) -> Response:
    """Take an organisation off the case's must-not-receive list. Needs If-Match."""
    entry = await service.get_exclusion(session, access, exclusion_id, access.action)
    await service.remove_exclusion(session, access, entry, expected)
    return Response(status_code=204)

"""Legal holds: place, list, read and lift (data-protection auditors)."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, tagged
from app.platform.idempotency import Idempotency, create_versioned
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, rendered
from app.platform.routing import api_router
from app.retention import holds as service
from app.retention.dependencies import HoldLifter, HoldPlacer, HoldReader
from app.retention.models import LegalHold
from app.retention.schemas import HoldTarget, LegalHoldCreate, LegalHoldLift, LegalHoldRead

router = api_router(prefix="/api/v1/legal-holds", tags=["retention"])


@router.post("", response_model=LegalHoldRead, status_code=201)
async def place_legal_hold(
    body: LegalHoldCreate,
    session: SessionDep,
    principal: HoldPlacer,
    idempotency: Idempotency,
    response: Response,
) -> LegalHoldRead:
    """Hold a case or a person: retention purges neither it nor (for a person) the
    cases the person takes part in until the hold is lifted. A target that does
    not exist is a 404. Audited by the hold's and the target's ids, never the ground."""

    async def make() -> LegalHold:
        return await service.place(session, principal, body)

    async def load(hold_id: uuid.UUID) -> LegalHold:
        return await service.get(session, principal, hold_id, Action.LEGAL_HOLD_PLACE)

    return await create_versioned(
        idempotency,
        session,
        principal,
        body,
        response,
        target_type="legal_hold",
        location="/api/v1/legal-holds/{id}",
        make=make,
        load=load,
        render=service.to_read,
    )


@router.get("", response_model=Page[LegalHoldRead])
async def list_legal_holds(
    session: SessionDep,
    principal: HoldReader,
    target_type: HoldTarget | None = None,
    target_id: uuid.UUID | None = None,
    active: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[LegalHoldRead]:
    """Legal holds, newest first (``active=true`` for those in force)."""
    found = await service.list_holds(
        session,
        principal,
        target_type=target_type,
        target_id=target_id,
        active=active,
        cursor=cursor,
        limit=limit,
    )
    return rendered(found, service.to_read)


@router.get("/{hold_id}", response_model=LegalHoldRead)
async def get_legal_hold(
    hold_id: uuid.UUID, session: SessionDep, principal: HoldReader, response: Response
) -> LegalHoldRead:
    """One legal hold: its target, ground, who placed it and whether it stands."""
    hold = await service.get(session, principal, hold_id, Action.LEGAL_HOLD_READ)
    return tagged(response, hold.version, service.read(session, principal, hold))


@router.post("/{hold_id}/lift", response_model=LegalHoldRead)
async def lift_legal_hold(
    hold_id: uuid.UUID,
    body: LegalHoldLift,
    session: SessionDep,
    principal: HoldLifter,
    expected: IfMatch,
    response: Response,
) -> LegalHoldRead:
    """Lift a hold, with a coded ground and an optional reference (If-Match: the
    hold's ETag). Retention may then purge the target at its next run, if it is
    past its period."""
    hold = await service.get(session, principal, hold_id, Action.LEGAL_HOLD_LIFT)
    hold = await service.lift(session, principal, hold, body, expected)
    return tagged(response, hold.version, service.to_read(hold))

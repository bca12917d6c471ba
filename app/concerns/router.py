"""Concern routes: submit, follow, and (for the receiving team) screen."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Response

from app.concerns import service
from app.concerns.dependencies import (
    ConcernReader,
    ConcernSubmitter,
    ScreenedConcern,
    ScreeningCase,
)
from app.concerns.schemas import (
    AnyConcernRead,
    ConcernBox,
    ConcernCreate,
    ConcernFeedback,
    ConcernPage,
    ConcernRead,
    ScreeningCreate,
)
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["concerns"])


@router.post("/concerns", response_model=ConcernFeedback, status_code=201)
async def submit_concern(
    body: ConcernCreate,
    session: SessionDep,
    principal: ConcernSubmitter,
    keyring: KeyRingDep,
    idempotency: Idempotency,
    response: Response,
) -> ConcernFeedback:
    """Raise a concern about a person with a team, under a legal basis.

    You will see its status (received, under consideration, action taken,
    no further action), never the case it leads to.
    """

    async def create() -> tuple[ConcernFeedback, uuid.UUID]:
        concern = await service.submit(session, keyring, principal, body)
        response.headers["Location"] = f"/api/v1/concerns/{concern.id}"
        return service.feedback(concern), concern.id

    async def reread(target_id: str) -> ConcernFeedback:
        concern, _screener = await service.load_for_reading(
            session, principal, uuid.UUID(target_id)
        )
        return tagged(response, concern.version, service.feedback(concern))

    return await create_once(
        idempotency, session, principal, body, response, "concern", create, reread
    )


@router.get("/concerns", response_model=ConcernPage)
async def list_concerns(
    session: SessionDep,
    keyring: KeyRingDep,
    principal: ConcernReader,
    box: Annotated[ConcernBox, Query(description="inbox: sent to your teams; submitted: yours.")],
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[Any]:
    """Your teams' incoming concerns in full, or the status of those you submitted."""
    items, nxt = await service.list_concerns(session, keyring, principal, box, cursor, limit)
    return Page[Any](items=list(items), next_cursor=nxt)


@router.get("/concerns/{concern_id}", response_model=AnyConcernRead)
async def get_concern(
    concern_id: uuid.UUID,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: ConcernReader,
    response: Response,
) -> Any:
    """The receiving team sees the concern; its submitter sees only the status."""
    concern, screener = await service.load_for_reading(session, principal, concern_id)
    return tagged(
        response,
        concern.version,
        await service.read(session, keyring, principal, concern, screener),
    )


@router.post("/concerns/{concern_id}/screening", response_model=ConcernRead)
async def screen_concern(
    concern_id: uuid.UUID,
    body: ScreeningCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    concern: ScreenedConcern,
    case_of: ScreeningCase,
    expected: IfMatch,
    response: Response,
) -> ConcernRead:
    """Decide: under consideration, open a case, attach to a case, or dismiss with a reason."""
    principal = case_of.principal
    concern = await service.screen(session, keyring, case_of, concern, body, expected)
    return tagged(
        response,
        concern.version,
        service.full(keyring, concern, await service.readable_among(session, principal, [concern])),
    )

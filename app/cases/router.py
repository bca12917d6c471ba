"""Case routes. Thin: permission and loading are dependencies, work is in services."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.cases import service
from app.cases.access import load_case_access
from app.cases.dependencies import (
    CaseCreator,
    CaseLister,
    CaseSearcher,
    CaseTransitioner,
    CaseUpdater,
    CurrentCase,
)
from app.cases.lifecycle import CaseStatus, GatesDep, Scheme
from app.cases.models import Case
from app.cases.router_emergency import router as emergency_router
from app.cases.router_exclusions import router as exclusions_router
from app.cases.router_members import router as members_router
from app.cases.router_notes import router as notes_router
from app.cases.router_participants import router as participants_router
from app.cases.schemas import (
    AccessKind,
    CaseCreate,
    CaseListItem,
    CaseRead,
    CaseSearch,
    CaseTransitionCreate,
    CaseUpdate,
    RiskLevel,
    TransitionRead,
)
from app.directory.dependencies import CaseTeam
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["cases"])


def _items(rows: list[tuple[Case, AccessKind]]) -> list[CaseListItem]:
    """A list holds no free text (CaseListItem), so nothing here is opened."""
    return [
        CaseListItem.model_validate(
            {
                **{key: getattr(case, key) for key in CaseListItem.model_fields if key != "access"},
                "access": kind,
            }
        )
        for case, kind in rows
    ]


@router.post("/cases", response_model=CaseRead, status_code=201)
async def create_case(
    body: CaseCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: CaseCreator,
    teams: CaseTeam,
    idempotency: Idempotency,
    response: Response,
) -> CaseRead:
    """Open a case in one of your teams. You become its lead."""

    async def create() -> tuple[CaseRead, uuid.UUID]:
        team = await teams(body.team_id)
        access = await service.create_case(session, keyring, principal, team, body)
        set_created(response, access.case.version, f"/api/v1/cases/{access.case.id}")
        return await service.to_read(session, keyring, access), access.case.id

    async def reread(target_id: str) -> CaseRead:
        access = await load_case_access(session, principal, uuid.UUID(target_id), Action.CASE_READ)
        return tagged(
            response, access.case.version, await service.read_case(session, keyring, access)
        )

    return await create_once(
        idempotency, session, principal, body, response, "case", create, reread
    )


@router.get("/cases", response_model=Page[CaseListItem])
async def list_cases(
    session: SessionDep,
    principal: CaseLister,
    scheme: Scheme | None = None,
    status: CaseStatus | None = None,
    team_id: uuid.UUID | None = None,
    risk_level: RiskLevel | None = None,
    review_overdue: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CaseListItem]:
    """The cases you may see (membership or an active emergency grant), newest first."""
    rows, nxt = await service.list_cases(
        session,
        principal,
        scheme=scheme,
        status=status,
        team_id=team_id,
        risk_level=risk_level,
        review_overdue=review_overdue,
        cursor=cursor,
        limit=limit,
    )
    return Page[CaseListItem](items=_items(rows), next_cursor=nxt)


@router.post("/cases/search", response_model=Page[CaseListItem])
async def search_cases(
    body: CaseSearch,
    session: SessionDep,
    principal: CaseSearcher,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CaseListItem]:
    """Search your cases by reference or participant name (names go in the body)."""
    rows, nxt = await service.search_cases(session, principal, body, cursor, limit)
    return Page[CaseListItem](items=_items(rows), next_cursor=nxt)


@router.get("/cases/{case_id}", response_model=CaseRead)
async def get_case(
    session: SessionDep, keyring: KeyRingDep, access: CurrentCase, response: Response
) -> CaseRead:
    """One case you are a member of (or hold an emergency grant for). Audited."""
    return tagged(response, access.case.version, await service.read_case(session, keyring, access))


@router.patch("/cases/{case_id}", response_model=CaseRead)
async def update_case(
    body: CaseUpdate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseUpdater,
    expected: IfMatch,
    response: Response,
) -> CaseRead:
    """Change the summary or the next review date. Status moves only by transitions."""
    out = await service.update_case(session, keyring, access, body, expected)
    return tagged(response, access.case.version, out)


@router.post("/cases/{case_id}/transitions", response_model=CaseRead)
async def transition_case(
    body: CaseTransitionCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseTransitioner,
    expected: IfMatch,
    response: Response,
    gates: GatesDep,
) -> CaseRead:
    """Move the case along its scheme's lifecycle (409 lists the allowed targets)."""
    out = await service.transition(session, keyring, gates, access, body, expected)
    return tagged(response, access.case.version, out)


@router.get("/cases/{case_id}/transitions", response_model=list[TransitionRead])
async def list_transitions(
    session: SessionDep, keyring: KeyRingDep, access: CurrentCase
) -> list[TransitionRead]:
    """The case's status history, oldest first: who moved it, when and why."""
    return await service.list_transitions(session, keyring, access)


#: Everything the cases domain serves, in the order app/main.py includes it.
routers = (
    router,
    members_router,
    participants_router,
    notes_router,
    emergency_router,
    exclusions_router,
)

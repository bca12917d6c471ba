"""Assessment routes. Thin: permission and loading are dependencies, work is in services."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router
from app.risk import service
from app.risk.assessment_schemas import (
    AssessmentCreate,
    AssessmentListItem,
    AssessmentRead,
    AssessmentStatus,
    AssessmentUpdate,
    RiskSummary,
)
from app.risk.dependencies import (
    AssessmentReader,
    AssessmentWriter,
    ClockDep,
    CurrentAssessment,
    PreferredLanguage,
    RiskConfigDep,
    WritableAssessment,
    load_assessment,
)
from app.risk.summary import risk_summary

router = api_router(prefix="/api/v1", tags=["risk"])
CASE = "/cases/{case_id}"
ONE = "/assessments/{assessment_id}"


@router.post(CASE + "/assessments", response_model=AssessmentRead, status_code=201)
async def create_assessment(
    body: AssessmentCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: AssessmentWriter,
    idempotency: Idempotency,
    language: PreferredLanguage,
    clock: ClockDep,
    config: RiskConfigDep,
    response: Response,
) -> AssessmentRead:
    """Answer a pinned instrument version: a draft, or at once with ``"submit": true``.

    Answers are validated against that version (422 lists every fault). The
    score, the Marak criteria and the risk level are computed by the server;
    a client that sends them gets a 422.
    """

    async def create() -> tuple[AssessmentRead, uuid.UUID]:
        assessment = await service.create(session, keyring, access, body, clock, config)
        set_created(response, assessment.version, f"/api/v1/assessments/{assessment.id}")
        return await service.to_read(session, keyring, assessment, language, clock), assessment.id

    async def reread(target_id: str) -> AssessmentRead:
        found = await load_assessment(
            session, access.principal, uuid.UUID(target_id), Action.CASE_ASSESSMENT_READ
        )
        out = await service.to_read(session, keyring, found.assessment, language, clock)
        service.audit_read(session, found.case, found.assessment)
        return tagged(response, found.assessment.version, out)

    return await create_once(
        idempotency, session, access.principal, body, response, "assessment", create, reread
    )


@router.get(CASE + "/assessments", response_model=Page[AssessmentListItem])
async def list_assessments(
    session: SessionDep,
    access: AssessmentReader,
    status: AssessmentStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AssessmentListItem]:
    """The case's assessments, oldest first: the history of how its risk was judged."""
    items, nxt = await service.list_for_case(session, access, status, cursor, limit)
    return Page[AssessmentListItem](items=items, next_cursor=nxt)


@router.get(CASE + "/risk", response_model=RiskSummary)
async def get_case_risk(
    session: SessionDep, access: AssessmentReader, clock: ClockDep, config: RiskConfigDep
) -> RiskSummary:
    """Risk level, next review, the latest result per instrument and (Marak) the repeat flag.

    The repeat flag shows only "yes" and the date of the pair's last referral,
    never which case it was in, and lapses by itself after 12 months.
    """
    return await risk_summary(session, access, clock, config)


@router.get(ONE, response_model=AssessmentRead)
async def get_assessment(
    session: SessionDep,
    keyring: KeyRingDep,
    current: CurrentAssessment,
    language: PreferredLanguage,
    clock: ClockDep,
    response: Response,
) -> AssessmentRead:
    """One assessment, labelled from the instrument version it pinned."""
    out = await service.to_read(session, keyring, current.assessment, language, clock)
    service.audit_read(session, current.case, current.assessment)
    return tagged(response, current.assessment.version, out)


@router.patch(ONE, response_model=AssessmentRead)
async def update_assessment(
    body: AssessmentUpdate,
    session: SessionDep,
    keyring: KeyRingDep,
    current: WritableAssessment,
    expected: IfMatch,
    language: PreferredLanguage,
    clock: ClockDep,
    response: Response,
) -> AssessmentRead:
    """Save more of a draft (409 once it is submitted: re-assess with a new one)."""
    assessment = await service.update_draft(
        session, keyring, current.case, current.assessment, body, expected, clock
    )
    return tagged(
        response,
        assessment.version,
        await service.to_read(session, keyring, assessment, language, clock),
    )


@router.post(ONE + "/submit", response_model=AssessmentRead)
async def submit_assessment(
    session: SessionDep,
    keyring: KeyRingDep,
    current: WritableAssessment,
    expected: IfMatch,
    language: PreferredLanguage,
    clock: ClockDep,
    config: RiskConfigDep,
    response: Response,
) -> AssessmentRead:
    """Complete a draft: every required item must be answered. It is immutable afterwards."""
    assessment = await service.submit(
        session, current.case, current.assessment, expected, clock, config
    )
    return tagged(
        response,
        assessment.version,
        await service.to_read(session, keyring, assessment, language, clock),
    )

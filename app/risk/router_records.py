"""Incident and external-tool record routes under a case."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.cases.dependencies import replayed
from app.db import SessionDep
from app.idempotency import Idempotency
from app.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.risk import records
from app.risk.assessment_schemas import ExternalAssessmentRead, IncidentCreate, IncidentRead
from app.risk.dependencies import (
    ClockDep,
    ExternalReader,
    ExternalWriter,
    IncidentReader,
    IncidentWriter,
    RiskConfigDep,
)
from app.risk.schemas import ExternalAssessmentRecord

router = APIRouter(prefix="/api/v1", tags=["risk"])
INCIDENTS = "/cases/{case_id}/incidents"
EXTERNAL = "/cases/{case_id}/external-assessments"


@router.post(INCIDENTS, response_model=IncidentRead, status_code=201)
async def record_incident(
    body: IncidentCreate,
    session: SessionDep,
    access: IncidentWriter,
    idempotency: Idempotency,
    clock: ClockDep,
    config: RiskConfigDep,
    response: Response,
) -> IncidentRead | Response:
    """Record an incident (date, source, police or not). In Marak it may meet a criterion
    at once: escalation, or a repeat within 12 months of the pair's last referral."""
    if (replay := await idempotency.begin(session, access.principal.user_id, body)) is not None:
        return replayed(session, access.principal, replay)
    incident = await records.record_incident(session, access, body, clock, config)
    out = IncidentRead.model_validate(incident)
    await idempotency.complete(
        session, 201, out, response.headers, target_type="case_incident", target_id=incident.id
    )
    return out


@router.get(INCIDENTS, response_model=Page[IncidentRead])
async def list_incidents(
    session: SessionDep,
    access: IncidentReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[IncidentRead]:
    items, nxt = await records.list_incidents(session, access, cursor, limit)
    return Page[IncidentRead](items=items, next_cursor=nxt)


@router.post(EXTERNAL, response_model=ExternalAssessmentRead, status_code=201)
async def record_external_assessment(
    body: ExternalAssessmentRecord,
    session: SessionDep,
    access: ExternalWriter,
    idempotency: Idempotency,
    clock: ClockDep,
    response: Response,
) -> ExternalAssessmentRead | Response:
    """That a licensed tool (HCR-20 V3, WAVR-21, VERA-2R, DyRiAS) was used: tool, date,
    assessor, summary rating and a reference. Item content is refused (422)."""
    if (replay := await idempotency.begin(session, access.principal.user_id, body)) is not None:
        return replayed(session, access.principal, replay)
    record = await records.record_external(session, access, body, clock)
    out = ExternalAssessmentRead.model_validate(record)
    await idempotency.complete(
        session,
        201,
        out,
        response.headers,
        target_type="external_assessment",
        target_id=record.id,
    )
    return out


@router.get(EXTERNAL, response_model=Page[ExternalAssessmentRead])
async def list_external_assessments(
    session: SessionDep,
    access: ExternalReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ExternalAssessmentRead]:
    items, nxt = await records.list_external(session, access, cursor, limit)
    return Page[ExternalAssessmentRead](items=items, next_cursor=nxt)

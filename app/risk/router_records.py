"""Incident and external-tool record routes under a case."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.auth.policy import Action
from app.platform.db import SessionDep
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, rendered
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
from app.risk.models import ExternalAssessment, Incident
from app.risk.schemas import ExternalAssessmentRecord

router = APIRouter(prefix="/api/v1", tags=["risk"])
INCIDENTS = "/cases/{case_id}/incidents"
EXTERNAL = "/cases/{case_id}/external-assessments"
TARGET_EXTERNAL = "external_assessment"


@router.post(INCIDENTS, response_model=IncidentRead, status_code=201)
async def record_incident(
    body: IncidentCreate,
    session: SessionDep,
    access: IncidentWriter,
    idempotency: Idempotency,
    clock: ClockDep,
    config: RiskConfigDep,
    response: Response,
) -> IncidentRead:
    """Record an incident (date, source, police or not). In Marak it may meet a criterion
    at once: escalation, or a repeat within 12 months of the pair's last referral."""

    async def create() -> tuple[IncidentRead, uuid.UUID]:
        incident = await records.record_incident(session, access, body, clock, config)
        return IncidentRead.model_validate(incident), incident.id

    async def reread(target_id: str) -> IncidentRead:
        incident = await records.case_row(
            session, access, Incident, Action.CASE_INCIDENT_READ, "case_incident", target_id
        )
        return IncidentRead.model_validate(incident)

    return await create_once(
        idempotency, session, access.principal, body, response, "case_incident", create, reread
    )


@router.get(INCIDENTS, response_model=Page[IncidentRead])
async def list_incidents(
    session: SessionDep,
    access: IncidentReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[IncidentRead]:
    """Incidents recorded on the case, newest first."""
    found = await records.oldest_first(
        session, access, Incident, "case.incident.listed", cursor, limit
    )
    return rendered(found, IncidentRead.model_validate)


@router.post(EXTERNAL, response_model=ExternalAssessmentRead, status_code=201)
async def record_external_assessment(
    body: ExternalAssessmentRecord,
    session: SessionDep,
    access: ExternalWriter,
    idempotency: Idempotency,
    clock: ClockDep,
    response: Response,
) -> ExternalAssessmentRead:
    """That a licensed tool (HCR-20 V3, WAVR-21, VERA-2R, DyRiAS) was used: tool, date,
    assessor, summary rating and a reference. Item content is refused (422)."""

    async def create() -> tuple[ExternalAssessmentRead, uuid.UUID]:
        record = await records.record_external(session, access, body, clock)
        return ExternalAssessmentRead.model_validate(record), record.id

    async def reread(target_id: str) -> ExternalAssessmentRead:
        record = await records.case_row(
            session,
            access,
            ExternalAssessment,
            Action.CASE_EXTERNAL_READ,
            TARGET_EXTERNAL,
            target_id,
        )
        return ExternalAssessmentRead.model_validate(record)

    return await create_once(
        idempotency, session, access.principal, body, response, TARGET_EXTERNAL, create, reread
    )


@router.get(EXTERNAL, response_model=Page[ExternalAssessmentRead])
async def list_external_assessments(
    session: SessionDep,
    access: ExternalReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ExternalAssessmentRead]:
    """Results of external risk tools recorded on the case (never the tool's licensed content)."""
    found = await records.oldest_first(
        session, access, ExternalAssessment, "external_assessment.listed", cursor, limit
    )
    return rendered(found, ExternalAssessmentRead.model_validate)

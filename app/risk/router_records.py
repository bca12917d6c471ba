"""Incident and external-tool record routes under a case."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router
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

router = api_router(prefix="/api/v1", tags=["risk"])
INCIDENTS = "/cases/{case_id}/incidents"
EXTERNAL = "/cases/{case_id}/external-assessments"


@router.post(INCIDENTS, response_model=IncidentRead, status_code=201)
async def record_incident(
    body: IncidentCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: IncidentWriter,
    idempotency: Idempotency,
    clock: ClockDep,
    config: RiskConfigDep,
    response: Response,
) -> IncidentRead:
    """Record an incident (date, source, police or not). In Marak it may meet a criterion
    at once: escalation, or a repeat within 12 months of the pair's last referral."""

    async def create() -> tuple[IncidentRead, uuid.UUID]:
        incident = await records.record_incident(session, keyring, access, body, clock, config)
        read = await records.reads(session, keyring, access, IncidentRead, [incident])
        return read[0], incident.id

    async def reread(target_id: str) -> IncidentRead:
        action, target, read = Action.CASE_INCIDENT_READ, "case_incident", IncidentRead
        return await records.case_row(session, keyring, access, read, action, target, target_id)

    return await create_once(
        idempotency, session, access.principal, body, response, "case_incident", create, reread
    )


@router.get(INCIDENTS, response_model=Page[IncidentRead])
async def list_incidents(
    session: SessionDep,
    keyring: KeyRingDep,
    access: IncidentReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[IncidentRead]:
    """Incidents recorded on the case, newest first."""
    event = "case.incident.listed"
    return await records.oldest_first(session, keyring, access, IncidentRead, event, cursor, limit)


@router.post(EXTERNAL, response_model=ExternalAssessmentRead, status_code=201)
async def record_external_assessment(
    body: ExternalAssessmentRecord,
    session: SessionDep,
    keyring: KeyRingDep,
    access: ExternalWriter,
    idempotency: Idempotency,
    clock: ClockDep,
    response: Response,
) -> ExternalAssessmentRead:
    """That a licensed tool (HCR-20 V3, WAVR-21, VERA-2R, DyRiAS) was used: tool, date,
    assessor, summary rating and a reference. Item content is refused (422)."""

    async def create() -> tuple[ExternalAssessmentRead, uuid.UUID]:
        record = await records.record_external(session, keyring, access, body, clock)
        read = await records.reads(session, keyring, access, ExternalAssessmentRead, [record])
        return read[0], record.id

    async def reread(target_id: str) -> ExternalAssessmentRead:
        action, target = Action.CASE_EXTERNAL_READ, "external_assessment"
        read = ExternalAssessmentRead
        return await records.case_row(session, keyring, access, read, action, target, target_id)

    return await create_once(
        idempotency,
        session,
        access.principal,
        body,
        response,
        "external_assessment",
        create,
        reread,
    )


@router.get(EXTERNAL, response_model=Page[ExternalAssessmentRead])
async def list_external_assessments(
    session: SessionDep,
    keyring: KeyRingDep,
    access: ExternalReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ExternalAssessmentRead]:
    """Results of external risk tools recorded on the case (never the tool's licensed content)."""
    event = "external_assessment.listed"
    read = ExternalAssessmentRead
    return await records.oldest_first(session, keyring, access, read, event, cursor, limit)

"""Incidents and external-tool records on a case: small, immutable, audited.

An incident is a fact the Marak criteria count: a police-reported one within
12 months feeds "potential escalation", and any one after the pair's last
referral feeds "repeat". Recording one therefore re-evaluates the case at once:
a repeat sends it back to Marak regardless of any score.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.freetext import read_values, seal_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess
from app.cases.lifecycle import Scheme
from app.platform.clock import Clock
from app.platform.crypto import KeyRing
from app.platform.pagination import fetch_page
from app.platform.problems import field_error
from app.risk.assessment_schemas import ExternalAssessmentRead, IncidentCreate, IncidentRead
from app.risk.config import RiskConfig
from app.risk.evaluation import live_marak_outcome, raise_on_new_criterion
from app.risk.models import ExternalAssessment, Incident
from app.risk.schemas import ExternalAssessmentRecord


def _not_in_future(field: str, value: object, clock: Clock) -> None:
    if str(value) > clock.today().isoformat():
        raise field_error(
            field,
            "A date in the future is not a record of what happened.",
            "in_future",
        )


R = TypeVar("R")


async def _record(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    clock: Clock,
    make: Callable[..., R],
    event: str,
    target_type: str,
    sealed: tuple[str, str | None],
    **fields: Any,
) -> R:
    """A new record on the case by the caller, now: added, flushed and audited as ``event``;
    ``sealed`` (name, text) goes under the case key (the row is immutable once flushed)."""
    principal = access.principal
    row: Any = make(
        id=uuid.uuid4(),
        case_id=access.case.id,
        recorded_by=principal.user_id,
        recorded_by_organisation_id=principal.organisation_id,
        created_at=clock.now(),
        **fields,
    )
    seal_text(await case_cipher(session, keyring, access.case.id, create=True), row, *sealed)
    session.add(row)
    await session.flush()
    access.audit(session, event, target_type, row.id)
    return cast(R, row)


async def record_incident(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    body: IncidentCreate,
    clock: Clock,
    config: RiskConfig,
) -> Incident:
    _not_in_future("occurred_on", body.occurred_on, clock)
    incident = await _record(
        session, keyring, access, clock, Incident, "case.incident.created", "case_incident",
        ("note", body.note), occurred_on=body.occurred_on, source=body.source.value,
        police_reported=body.police_reported,
    )  # fmt: skip
    if access.case.scheme == Scheme.MARAK.value and access.case.closed_at is None:
        _latest, outcome = await live_marak_outcome(session, access.case.id, clock.today(), config)
        raise_on_new_criterion(session, access.principal, access.case, outcome)
        await session.flush()
    return incident


async def _oldest_first(
    session: AsyncSession, access: CaseAccess, model: Any, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """A page of the case's rows of ``model``, oldest first."""
    stmt = select(model).where(model.case_id == access.case.id)
    return await fetch_page(session, stmt, model.created_at, model.id, cursor, limit, False)


async def incident_reads(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, rows: Sequence[Incident]
) -> list[IncidentRead]:
    """The incidents; each note opens under the case key (410 once shredded)."""
    cipher = await case_cipher(session, keyring, access.case.id)
    return [IncidentRead.model_validate(read_values(cipher, r, ("note",))) for r in rows]


async def external_reads(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    rows: Sequence[ExternalAssessment],
) -> list[ExternalAssessmentRead]:
    cipher = await case_cipher(session, keyring, access.case.id)
    return [
        ExternalAssessmentRead.model_validate(read_values(cipher, r, ("reference",))) for r in rows
    ]


async def list_incidents(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, cursor: str | None, limit: int
) -> tuple[list[IncidentRead], str | None]:
    rows, nxt = await _oldest_first(session, access, Incident, cursor, limit)
    access.audit(session, "case.incident.listed")
    return await incident_reads(session, keyring, access, rows), nxt


async def record_external(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    body: ExternalAssessmentRecord,
    clock: Clock,
) -> ExternalAssessment:
    """Only that the tool was used, by whom, when, its summary rating and where the report is."""
    _not_in_future("assessed_on", body.assessed_on, clock)
    return await _record(
        session, keyring, access, clock, ExternalAssessment, "external_assessment.recorded",
        "external_assessment", ("reference", body.reference), tool=body.tool.value,
        assessed_on=body.assessed_on, assessor=body.assessor,
        summary_rating=body.summary_rating.value,
    )  # fmt: skip


async def list_external(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, cursor: str | None, limit: int
) -> tuple[list[ExternalAssessmentRead], str | None]:
    rows, nxt = await _oldest_first(session, access, ExternalAssessment, cursor, limit)
    access.audit(session, "external_assessment.listed")
    return await external_reads(session, keyring, access, rows), nxt

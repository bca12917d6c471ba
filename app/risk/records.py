"""Incidents and external-tool records on a case: small, immutable, audited.

An incident is a fact the Marak criteria count: a police-reported one within
12 months feeds "potential escalation", and any one after the pair's last
referral feeds "repeat". Recording one therefore re-evaluates the case at once:
a repeat sends it back to Marak regardless of any score.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.access import CaseAccess, not_found
from app.cases.lifecycle import Scheme
from app.platform.clock import Clock
from app.platform.pagination import fetch_page
from app.platform.problems import field_error
from app.risk.assessment_schemas import IncidentCreate
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
    access: CaseAccess,
    clock: Clock,
    make: Callable[..., R],
    event: str,
    target_type: str,
    **fields: Any,
) -> R:
    """A new record on the case by the caller, now: added, flushed and audited as ``event``."""
    principal = access.principal
    row: Any = make(
        case_id=access.case.id,
        recorded_by=principal.user_id,
        recorded_by_organisation_id=principal.organisation_id,
        created_at=clock.now(),
        **fields,
    )
    session.add(row)
    await session.flush()
    access.audit(session, event, target_type, row.id)
    return cast(R, row)


async def record_incident(
    session: AsyncSession,
    access: CaseAccess,
    body: IncidentCreate,
    clock: Clock,
    config: RiskConfig,
) -> Incident:
    _not_in_future("occurred_on", body.occurred_on, clock)
    incident = await _record(
        session, access, clock, Incident, "case.incident.created", "case_incident",
        occurred_on=body.occurred_on, source=body.source.value,
        police_reported=body.police_reported, note=body.note,
    )  # fmt: skip
    if access.case.scheme == Scheme.MARAK.value and access.case.closed_at is None:
        _latest, outcome = await live_marak_outcome(session, access.case.id, clock.today(), config)
        raise_on_new_criterion(session, access.principal, access.case, outcome)
        await session.flush()
    return incident


async def oldest_first(
    session: AsyncSession,
    access: CaseAccess,
    model: type[Incident | ExternalAssessment],
    event: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """A page of the case's rows of ``model``, oldest first; audited as ``event``."""
    stmt = select(model).where(model.case_id == access.case.id)
    found = await fetch_page(session, stmt, model.created_at, model.id, cursor, limit, False)
    access.audit(session, event)
    return found


async def case_row(
    session: AsyncSession,
    access: CaseAccess,
    model: Any,
    action: str,
    target_type: str,
    row_id: str,
) -> Any:
    """The case's ``model`` row ``row_id`` (the case was loaded through readable-cases),
    or a 404 as a refused ``action``."""
    stmt = select(model).where(model.id == uuid.UUID(row_id), model.case_id == access.case.id)
    row = await session.scalar(stmt)
    if row is None:
        raise not_found(action, access.principal, target_type, row_id)
    return row


async def record_external(
    session: AsyncSession, access: CaseAccess, body: ExternalAssessmentRecord, clock: Clock
) -> ExternalAssessment:
    """Only that the tool was used, by whom, when, its summary rating and where the report is."""
    _not_in_future("assessed_on", body.assessed_on, clock)
    return await _record(
        session, access, clock, ExternalAssessment, "external_assessment.recorded",
        "external_assessment", tool=body.tool.value, assessed_on=body.assessed_on,
        assessor=body.assessor, summary_rating=body.summary_rating.value, reference=body.reference,
    )  # fmt: skip

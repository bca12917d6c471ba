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
from app.cases.access import CaseAccess, not_found
from app.cases.lifecycle import Scheme
from app.platform.clock import Clock
from app.platform.crypto import KeyRing
from app.platform.pagination import Page, fetch_page
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


#: Each record kind by its read model: the table, and its text sealed under the case key.
_RECORDS: dict[type[Any], tuple[type[Incident | ExternalAssessment], tuple[str, ...]]] = {
    IncidentRead: (Incident, ("note",)),
    ExternalAssessmentRead: (ExternalAssessment, ("reference",)),
}
ReadT = TypeVar("ReadT", IncidentRead, ExternalAssessmentRead)


async def reads(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    read: type[ReadT],
    rows: Sequence[Any],
) -> list[ReadT]:
    """The records as ``read`` models, their text opened under the case key (410 once shredded)."""
    cipher = await case_cipher(session, keyring, access.case.id)
    sealed = _RECORDS[read][1]
    return [read.model_validate(read_values(cipher, row, sealed)) for row in rows]


async def case_row(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    read: type[ReadT],
    action: str,
    target_type: str,
    row_id: str,
) -> ReadT:
    """The case's record ``row_id`` as ``read`` (the case was loaded through
    readable-cases), or a 404 as a refused ``action``."""
    model = _RECORDS[read][0]
    stmt = select(model).where(model.id == uuid.UUID(row_id), model.case_id == access.case.id)
    row = await session.scalar(stmt)
    if row is None:
        raise not_found(action, access.principal, target_type, row_id)
    return (await reads(session, keyring, access, read, [row]))[0]


async def oldest_first(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    read: type[ReadT],
    event: str,
    cursor: str | None,
    limit: int,
) -> Page[ReadT]:
    """A page of the case's records, oldest first, as ``read``; audited as ``event``."""
    model = _RECORDS[read][0]
    stmt = select(model).where(model.case_id == access.case.id)
    rows, nxt = await fetch_page(session, stmt, model.created_at, model.id, cursor, limit, False)
    access.audit(session, event)
    return Page[ReadT](items=await reads(session, keyring, access, read, rows), next_cursor=nxt)


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

"""What is past its retention period: the one set of queries a dry run and a real run share.

Nothing here writes. A case is due when it is closed (terminal status with a
closing time) and its owning organisation's class period has passed since it
closed; a dismissed concern when its team's organisation's period has passed
since the decision; a person when nothing refers to them any more (or only
rows that are going in the same run) and the grace period has passed since
they were recorded. A legal hold on a case, on a person, or on a person taking
part in a case blocks it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseParticipant
from app.concerns.models import Concern
from app.directory.models import Organisation, Team
from app.persons.models import Person
from app.platform.db import Base
from app.retention.classes import Record, Schedule
from app.retention.models import LegalHold
from app.retention.plan import ROOT, CasePlan, PlanError

#: Terminal case states (app/cases/lifecycle.py): the only ones that set ``closed_at``.
TERMINAL = ("closed", "not_selected")
#: The concern statuses and decision of a dismissal (app/concerns/schemas.py).
DISMISSED_STATUS, DISMISS = "no_further_action", "dismiss"


def held(target_type: str, target_id: Any) -> ColumnElement[bool]:
    return exists().where(
        LegalHold.target_type == target_type,
        LegalHold.target_id == target_id,
        LegalHold.lifted_at.is_(None),
    )


def case_blocked(case_id: Any) -> ColumnElement[bool]:
    """A hold on the case, or on a person taking part in it."""
    participant_held = exists().where(
        CaseParticipant.case_id == case_id, held("person", CaseParticipant.person_id)
    )
    return or_(held("case", case_id), participant_held)


def _cutoffs(schedule: Schedule, record: Record, kind: Any, now: datetime) -> Any:
    """``now - period`` for the organisation kind in ``kind``, as one SQL CASE."""
    named = [c for c in schedule.classes if c.record == record and c.kind != "*"]
    default = now - schedule.period(record)
    if not named:
        return default
    return sql_case(*[(kind == c.kind, now - c.period) for c in named], else_=default)


def due_cases_query(schedule: Schedule, now: datetime) -> Select[Any]:
    cutoff = _cutoffs(schedule, Record.CASE, Organisation.kind, now)
    return (
        select(Case.id)
        .join(Organisation, Organisation.id == Case.owner_organisation_id)
        .where(Case.status.in_(TERMINAL), Case.closed_at.is_not(None))
        .where(Case.closed_at <= cutoff, ~case_blocked(Case.id))
        .order_by(Case.closed_at, Case.id)
    )


def due_concerns_query(schedule: Schedule, now: datetime) -> Select[Any]:
    cutoff = _cutoffs(schedule, Record.CONCERN_DISMISSED, Organisation.kind, now)
    return (
        select(Concern.id)
        .join(Team, Team.id == Concern.team_id)
        .join(Organisation, Organisation.id == Team.organisation_id)
        .where(Concern.status == DISMISSED_STATUS, Concern.decision == DISMISS)
        .where(Concern.screened_at.is_not(None), Concern.screened_at <= cutoff)
        .where(Concern.case_id.is_(None), ~held("person", Concern.person_id))
        .order_by(Concern.screened_at, Concern.id)
    )


@dataclass(frozen=True)
class PersonRefs:
    """Every (table, column) that refers to a person, and the person's own tables.

    Own tables (identity versions) go with the person. A referring table owned by
    a case must carry ``case_id`` itself, so rows of cases going in the same run
    can be discounted; anything else refers for good.
    """

    refs: tuple[tuple[object, str], ...]
    own: tuple[tuple[object, str], ...]


def person_refs(plan: CasePlan) -> PersonRefs:
    persons = Person.__table__
    owned = {o.name for o in plan.owned}
    refs, own = [], []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not persons:
                continue
            if table.name not in owned and (fk.ondelete or "").upper() == "CASCADE":
                own.append((table, fk.parent.name))
                continue
            if table.name in owned and "case_id" not in table.c:
                raise PlanError(f"{table.name} refers to persons but carries no case_id")
            refs.append((table, fk.parent.name))
    return PersonRefs(tuple(refs), tuple(own))


def unreferenced(
    refs: PersonRefs,
    person_id: Any,
    going_cases: Select[Any] | None = None,
    going_concerns: Select[Any] | None = None,
) -> ColumnElement[bool]:
    """No row refers to the person, apart from rows of the cases or concerns that are
    going in the same run (given as the subqueries that select them)."""
    conditions = []
    for table, column in refs.refs:
        col = table.c[column]  # type: ignore[attr-defined]
        gone: ColumnElement[bool] = false()
        if going_cases is not None and "case_id" in table.c:  # type: ignore[attr-defined]
            gone = or_(gone, table.c.case_id.in_(going_cases.order_by(None)))  # type: ignore[attr-defined]
        if going_concerns is not None and table.name == Concern.__tablename__:  # type: ignore[attr-defined]
            gone = or_(gone, table.c.id.in_(going_concerns.order_by(None)))  # type: ignore[attr-defined]
        conditions.append(~exists().where(col == person_id, ~gone))
    return and_(true(), *conditions)


def due_persons_query(
    schedule: Schedule,
    refs: PersonRefs,
    now: datetime,
    going_cases: Select[Any] | None = None,
    going_concerns: Select[Any] | None = None,
) -> Select[Any]:
    cutoff = now - schedule.period(Record.PERSON_UNREFERENCED)
    return (
        select(Person.id)
        .where(Person.created_at <= cutoff, ~held("person", Person.id))
        .where(unreferenced(refs, Person.id, going_cases, going_concerns))
        .order_by(Person.created_at, Person.id)
    )


async def ids(session: AsyncSession, stmt: Select[Any]) -> list[uuid.UUID]:
    return list((await session.scalars(stmt)).all())


__all__ = ["ROOT"]

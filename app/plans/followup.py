"""What plans add to lower domains: the closure gate and the measures of /me/tasks.

Cases and the task registry know nothing of plans (docs/ARCHITECTURE.md section 2):
app/plans/install.py registers these into the app's registries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.cases.access import member_case_ids
from app.cases.lifecycle import CaseStatus, GateContext
from app.cases.models import Case
from app.plans.models import Measure
from app.plans.schemas import OPEN_STATUSES
from app.worklist.registry import TaskRead

#: Measures show up in /me/tasks this many days before they fall due.
DUE_SOON = timedelta(days=7)
#: The kinds of task :func:`measures_due` produces.
MEASURE_DUE = "measure_due"
MEASURE_OVERDUE = "measure_overdue"
KINDS = (MEASURE_DUE, MEASURE_OVERDUE)
_OPEN = sorted(s.value for s in OPEN_STATUSES)


async def open_measures_settled(ctx: GateContext) -> str | None:
    """A case closes only when every measure is settled (done / not done) or
    explicitly cancelled with a reason: nothing the group agreed is left hanging."""
    count = await ctx.session.scalar(
        select(func.count())
        .select_from(Measure)
        .where(
            Measure.case_id == ctx.case.id,
            Measure.removed_in.is_(None),
            Measure.status.in_(_OPEN),
        )
    )
    if count:
        return (
            f"{count} measure(s) of the plan are still open: settle them, "
            "or cancel them with a reason, before closing."
        )
    return None


def _my_open_cases(principal: Principal) -> list[ColumnElement[bool]]:
    return [
        Case.id.in_(member_case_ids(principal)),
        Case.status != CaseStatus.CLOSED.value,
    ]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def measures_due(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """Open measures due within a week (or overdue), for me or my organisation,
    in cases I am still a member of."""
    today = now.date()
    rows = (
        await session.execute(
            select(Measure, Case.reference)
            .join(Case, Case.id == Measure.case_id)
            .where(
                *_my_open_cases(principal),
                Measure.removed_in.is_(None),
                Measure.status.in_(_OPEN),
                Measure.due_date.is_not(None),
                Measure.due_date <= today + DUE_SOON,
                (Measure.responsible_user_id == principal.user_id)
                | (Measure.responsible_organisation_id == principal.organisation_id),
            )
        )
    ).all()
    tasks = []
    for measure, reference in rows:
        due = measure.due_date
        assert due is not None  # filtered in the query
        overdue = due < today
        mine = measure.responsible_user_id == principal.user_id
        tasks.append(
            TaskRead(
                kind=MEASURE_OVERDUE if overdue else MEASURE_DUE,
                title=f"Measure ({measure.category}) {'overdue' if overdue else 'due'}",
                due_at=_day_start(due),
                overdue=overdue,
                priority=0 if mine else 1,
                case_id=measure.case_id,
                case_reference=reference,
                target_type="measure",
                target_id=measure.id,
            )
        )
    return tasks

"""What plans add to lower domains at start-up: the closure gate and /me/tasks providers.

Cases and the task registry know nothing of plans (docs/ARCHITECTURE.md section 2): this
module registers into them when the plans package is imported.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.cases.access import member_case_ids
from app.cases.lifecycle import CaseStatus, GateContext, register_gate
from app.cases.models import Case, EmergencyGrant
from app.plans.models import Measure
from app.plans.schemas import OPEN_STATUSES
from app.worklist.router import TaskKind, TaskRead, register_provider

#: Measures show up in /me/tasks this many days before they fall due.
DUE_SOON = timedelta(days=7)
_OPEN = sorted(s.value for s in OPEN_STATUSES)
_RISK_PRIORITY = {"high": 0, "moderate": 1, "low": 2}


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


register_gate(None, CaseStatus.CLOSED, open_measures_settled)


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
                kind=TaskKind.MEASURE_OVERDUE if overdue else TaskKind.MEASURE_DUE,
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


async def cases_to_review(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """Cases whose review date has passed (HAH by priority interval, Marak plan review)."""
    rows = (
        await session.scalars(
            select(Case).where(
                *_my_open_cases(principal),
                Case.next_review_at.is_not(None),
                Case.next_review_at <= now,
            )
        )
    ).all()
    return [
        TaskRead(
            kind=TaskKind.CASE_REVIEW,
            title=f"Review due ({case.scheme})",
            due_at=case.next_review_at,
            overdue=True,
            priority=_RISK_PRIORITY.get(case.risk_level or "", 2),
            case_id=case.id,
            case_reference=case.reference,
            target_type="case",
            target_id=case.id,
        )
        for case in rows
    ]


async def grants_to_review(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """For auditors: emergency grants nobody has reviewed yet (no case content)."""
    if Role.AUDITOR not in principal.roles:
        return []
    rows = (
        await session.scalars(
            select(EmergencyGrant)
            .join(Case, Case.id == EmergencyGrant.case_id)
            .where(EmergencyGrant.reviewed_at.is_(None), Case.status != CaseStatus.CLOSED.value)
        )
    ).all()
    return [
        TaskRead(
            kind=TaskKind.EMERGENCY_ACCESS_REVIEW,
            title="Emergency access awaiting review",
            due_at=grant.created_at,
            overdue=grant.expires_at <= now,
            priority=1,
            case_id=grant.case_id,
            target_type="emergency_grant",
            target_id=grant.id,
        )
        for grant in rows
    ]


register_provider("plans.measures", measures_due)
register_provider("cases.reviews", cases_to_review)
register_provider("cases.emergency_grants", grants_to_review)

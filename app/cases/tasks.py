"""The cases domain's tasks in /me/tasks: reviews that fell due, emergency grants to
review (auditors), and notice of emergency grants on a team's cases (its coordinators).

Registered by app/cases/install.py into the app's task providers, each with the
kinds of task it produces.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.cases.access import grants_on_coordinated_teams, member_case_ids
from app.cases.lifecycle import CaseStatus
from app.cases.models import Case, EmergencyGrant
from app.worklist.registry import TaskRead

CASE_REVIEW = "case_review"
EMERGENCY_ACCESS_REVIEW = "emergency_access_review"
EMERGENCY_ACCESS_NOTICE = "emergency_access_notice"
#: How long a coordinator sees an unreviewed grant on their team's case.
NOTICE_DAYS = 7
_RISK_PRIORITY = {"high": 0, "moderate": 1, "low": 2}


def _my_open_cases(principal: Principal) -> list[ColumnElement[bool]]:
    return [
        Case.id.in_(member_case_ids(principal)),
        Case.status != CaseStatus.CLOSED.value,
    ]


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
            kind=CASE_REVIEW,
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
            kind=EMERGENCY_ACCESS_REVIEW,
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


async def grants_on_my_teams(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """For a team's coordinators (docs/DOMAIN.md, emergency access): somebody broke
    the glass into a case of your team. Shown until an auditor has reviewed the
    grant, for at most ``NOTICE_DAYS``; never on a case your organisation must not
    receive, never your own grant, and with no case content (not even the
    reference: a coordinator need not be a member of the case)."""
    rows = (
        await session.scalars(
            grants_on_coordinated_teams(principal).where(
                EmergencyGrant.reviewed_at.is_(None),
                EmergencyGrant.created_at > now - timedelta(days=NOTICE_DAYS),
                Case.status != CaseStatus.CLOSED.value,
            )
        )
    ).all()
    return [
        TaskRead(
            kind=EMERGENCY_ACCESS_NOTICE,
            title=f"Emergency access to a case of your team ({grant.role})",
            due_at=grant.created_at,
            overdue=False,
            priority=1,
            case_id=grant.case_id,
            target_type="emergency_grant",
            target_id=grant.id,
        )
        for grant in rows
    ]

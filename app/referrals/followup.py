"""What referrals add to lower domains: the closure gate, /me/tasks and the expiry sweep.

app/referrals/install.py registers the gate and the providers into the app's registries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.predicates import is_provider
from app.auth.principal import Principal
from app.cases.access import member_case_ids
from app.cases.lifecycle import CaseStatus, GateContext
from app.cases.models import Case
from app.platform.crypto import KeyRing
from app.platform.db import Database
from app.referrals.models import Referral
from app.referrals.service import received_by
from app.referrals.states import OPEN, UNANSWERED, ReasonCode, Status
from app.referrals.transitions import expire_due
from app.referrals.views import overdue_clause
from app.worklist.registry import TaskRead

log = logging.getLogger(__name__)
_OPEN = sorted(s.value for s in OPEN)
_UNANSWERED = sorted(s.value for s in UNANSWERED)
#: The kinds of task the providers below produce.
REFERRAL_OVERDUE = "referral_overdue"  # the referrer: no answer within the target
REFERRAL_EXPIRED = "referral_expired"  # the referrer: it failed unanswered
REFERRAL_TO_ANSWER = "referral_to_answer"  # the receiving service: waiting for you
_URGENCY_PRIORITY = {"stat": 0, "asap": 0, "urgent": 1, "routine": 2}


async def referrals_settled(ctx: GateContext) -> str | None:
    """A case closes only when no referral is left open: each is answered, or
    cancelled with a reason (cancelling always needs one)."""
    count = await ctx.session.scalar(
        select(func.count())
        .select_from(Referral)
        .where(Referral.case_id == ctx.case.id, Referral.status.in_(_OPEN))
    )
    if count:
        return (
            f"{count} referral(s) are still open: wait for the service's answer, "
            "or cancel them with a reason, before closing."
        )
    return None


def _mine_in_open_cases(principal: Principal) -> list[object]:
    return [
        Referral.created_by == principal.user_id,
        Case.id.in_(member_case_ids(principal)),
        Case.status != CaseStatus.CLOSED.value,
    ]


async def my_referrals(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """For the referrer, while still in the case and the case is open: referrals with no
    answer past the service's target, and referrals that expired unacknowledged."""
    rows = (
        await session.execute(
            select(Referral, Case.reference)
            .join(Case, Case.id == Referral.case_id)
            .where(
                *_mine_in_open_cases(principal),  # type: ignore[arg-type]
                overdue_clause(now)
                | (
                    (Referral.status == Status.FAILED.value)
                    & (Referral.reason_code == ReasonCode.EXPIRED.value)
                    & Referral.expiry_acknowledged_at.is_(None)
                ),
            )
        )
    ).all()
    tasks = []
    for referral, reference in rows:
        expired = referral.status == Status.FAILED.value
        tasks.append(
            TaskRead(
                kind=REFERRAL_EXPIRED if expired else REFERRAL_OVERDUE,
                title="Referral expired unanswered" if expired else "Referral not answered in time",
                due_at=referral.ended_at if expired else referral.response_due_at,
                overdue=True,
                priority=_URGENCY_PRIORITY.get(referral.urgency, 2),
                case_id=referral.case_id,
                case_reference=reference,
                target_type="referral",
                target_id=referral.id,
            )
        )
    return tasks


async def referrals_to_answer(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """For the receiving service: sent referrals waiting for its answer (never the case)."""
    if not is_provider(principal):
        return []
    rows = (
        await session.scalars(
            select(Referral)
            .join(Case, Case.id == Referral.case_id)
            .where(
                received_by(principal),
                Referral.status.in_(_UNANSWERED),
                Case.status != CaseStatus.CLOSED.value,
            )
        )
    ).all()
    return [
        TaskRead(
            kind=REFERRAL_TO_ANSWER,
            title="Referral waiting for your answer",
            due_at=referral.response_due_at,
            overdue=referral.response_due_at is not None and referral.response_due_at < now,
            priority=_URGENCY_PRIORITY.get(referral.urgency, 2),
            target_type="referral",
            target_id=referral.id,
        )
        for referral in rows
    ]


async def sweep_once(
    db: Database, keyring: KeyRing, progress: Callable[[int], None] | None = None
) -> int:
    """Expire what is due, in batches, each in its own transaction."""
    total = 0
    while True:
        async with db.sessionmaker.begin() as session:
            done = await expire_due(session, keyring)
        total += done
        if progress is not None and done:
            progress(done)
        if done == 0:
            return total

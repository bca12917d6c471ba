"""What the risk domain adds to lower domains: lifecycle gates and a task.

``cases`` sits below ``risk`` and may not import it, so the preconditions that
depend on assessments are defined here and registered by app/risk/install.py
(docs/ARCHITECTURE.md section 2). They sit
next to the cases domain's own gates (the Marak consent gate, the HAH
documented-decision gate), which stay in force. Unfinished drafts show in the
assessor's ``/me/tasks``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.cases.access import readable_cases
from app.cases.lifecycle import CaseStatus, GateContext, GateFn, Scheme
from app.cases.models import Case
from app.platform.clock import clock
from app.risk import config as risk_config
from app.risk.evaluation import latest_submitted, live_marak_outcome
from app.risk.models import Assessment
from app.risk.schemas import RiskLevel
from app.worklist.registry import TaskRead


async def marak_referral_criterion_met(ctx: GateContext) -> str | None:
    """A case goes to the Marak group only when one of the four criteria is met.

    Evaluated as of today, not as of the checklist: an incident recorded since
    (escalation) or the pair's earlier referral (repeat) counts, and a repeat
    sends the case back regardless of the score.
    """
    config = risk_config.current()
    latest, outcome = await live_marak_outcome(ctx.session, ctx.case.id, clock.today(), config)
    if latest is None:
        return "Submit the Marak risk identification checklist before referring."
    if outcome.referral_criteria_met:
        return None
    reasons = " ".join(c.reason for c in outcome.criteria)
    return f"No Marak referral criterion is met. {reasons}"


async def hah_latest_assessment_low(ctx: GateContext) -> str | None:
    """HAH closes only on a latest assessment whose summary priority is low.

    The written decision itself is the cases domain's gate
    (``hah_no_longer_a_threat_decision``); together they are "a documented
    decision that the person is no longer a threat / the risk is low".
    """
    latest = await latest_submitted(ctx.session, ctx.case.id, Scheme.HAH)
    priority = RiskLevel(latest.risk_level) if latest and latest.risk_level else None
    if priority == RiskLevel.LOW:
        return None
    if latest is None:
        return "Closing needs a submitted assessment with priority 'low'."
    return f"The latest assessment has priority '{priority}'; closing needs 'low'."


async def ankkuri_needs_assessment_completed(ctx: GateContext) -> str | None:
    """Services are chosen from the mapped needs: no referral before the needs assessment."""
    found = await ctx.session.scalar(
        select(Assessment.id)
        .where(
            Assessment.case_id == ctx.case.id,
            Assessment.scheme == Scheme.ANKKURI.value,
            Assessment.status == "submitted",
        )
        .limit(1)
    )
    if found is None:
        return "Complete the support-needs assessment before the service referral."
    return None


DRAFT_ASSESSMENT = "draft_assessment"


async def draft_assessments(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """My unfinished drafts, in open cases I can still read (no content, just the fact)."""
    readable = readable_cases(principal, now).with_only_columns(Case.id)
    rows = await session.execute(
        select(
            Assessment.id,
            Assessment.instrument_code,
            Assessment.instrument_version,
            Case.id,
            Case.reference,
        )
        .join(Case, Case.id == Assessment.case_id)
        .where(
            Assessment.assessor_id == principal.user_id,
            Assessment.status == "draft",
            Case.closed_at.is_(None),
            Case.id.in_(readable),
        )
        .order_by(Assessment.created_at, Assessment.id)
        .limit(100)
    )
    return [
        TaskRead(
            kind=DRAFT_ASSESSMENT,
            title=f"Finish the draft assessment ({code}@{version})",
            due_at=None,
            overdue=False,
            priority=2,
            case_id=case_id,
            case_reference=reference,
            target_type="assessment",
            target_id=assessment_id,
        )
        for assessment_id, code, version, case_id, reference in rows
    ]


GATES: tuple[tuple[Scheme | None, CaseStatus, GateFn], ...] = (
    (Scheme.MARAK, CaseStatus.REFERRED, marak_referral_criterion_met),
    (Scheme.HAH, CaseStatus.CLOSED, hah_latest_assessment_low),
    (Scheme.ANKKURI, CaseStatus.SERVICE_REFERRAL, ankkuri_needs_assessment_completed),
)

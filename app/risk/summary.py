"""The case's risk at a glance, for every member: level, review, repeat flag, latest results.

The Marak repeat flag is computed on every read from the pair's last referral
and today's date, so it shows for exactly 12 months and then lapses by itself;
nothing has to remember to switch it off.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.access import CaseAccess
from app.cases.lifecycle import Scheme
from app.platform.clock import Clock
from app.risk.assessment_schemas import AssessmentListItem, RepeatFlag, RiskSummary
from app.risk.config import RiskConfig
from app.risk.evaluation import criterion, live_marak_outcome
from app.risk.models import Assessment
from app.risk.schemas import RiskLevel
from app.risk.scoring import Criterion


async def _latest_per_instrument(session: AsyncSession, access: CaseAccess) -> list[Assessment]:
    rows = await session.scalars(
        select(Assessment)
        .where(Assessment.case_id == access.case.id, Assessment.status == "submitted")
        .order_by(Assessment.submitted_at.desc(), Assessment.id.desc())
    )
    latest: dict[str, Assessment] = {}
    for row in rows:
        latest.setdefault(row.instrument_code, row)
    return sorted(latest.values(), key=lambda a: a.instrument_code)


async def risk_summary(
    session: AsyncSession, access: CaseAccess, clock: Clock, config: RiskConfig
) -> RiskSummary:
    case = access.case
    repeat: RepeatFlag | None = None
    incidents: int | None = None
    required: int | None = None
    if case.scheme == Scheme.MARAK.value:
        today = clock.today()
        _latest, outcome = await live_marak_outcome(session, case.id, today, config)
        facts = criterion(outcome, Criterion.REPEAT).facts
        last, until = facts["last_referral_on"], facts["flag_until"]
        flagged = until is not None and today.isoformat() <= str(until)
        # After the 12 months nothing is shown: the earlier referral is not this case's.
        repeat = RepeatFlag.model_validate(
            {
                "flagged": flagged,
                "last_referral_on": last if flagged else None,
                "flagged_until": until if flagged else None,
            }
        )
        escalation = criterion(outcome, Criterion.POTENTIAL_ESCALATION).facts
        incidents = int(escalation["police_reported_incidents"] or 0)
        required = int(escalation["required"] or 0)
    summary = RiskSummary(
        case_id=case.id,
        scheme=Scheme(case.scheme),
        risk_level=RiskLevel(case.risk_level) if case.risk_level else None,
        next_review_at=case.next_review_at,
        repeat=repeat,
        police_reported_incidents=incidents,
        escalation_incidents_required=required,
        latest=[
            AssessmentListItem.model_validate(a)
            for a in await _latest_per_instrument(session, access)
        ],
    )
    access.audit(session, "case.risk.read", "case", case.id)
    return summary

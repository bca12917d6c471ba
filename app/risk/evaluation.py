"""From validated answers and the case's facts to an outcome, and from that to the case.

The pure rules live in :mod:`app.risk.scoring`; this module gathers their
inputs from the database (incidents, the last Marak referral of the same
pair) and writes the consequences on the case: ``risk_level`` and, in HAH,
``next_review_at``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.cases.lifecycle import Scheme
from app.cases.models import Case
from app.platform.clock import review_due
from app.risk import catalogue
from app.risk.config import RiskConfig
from app.risk.exceptions import ImmutableVersionChanged
from app.risk.instruments import default_registry
from app.risk.judgement_text import for_validation
from app.risk.models import Assessment, Incident
from app.risk.repeat import last_referral_on
from app.risk.schemas import InstrumentDefinition, RiskLevel
from app.risk.scoring import (
    Criterion,
    MarakOutcome,
    compute_score,
    hah_outcome,
    marak_criteria,
)
from app.risk.scoring import (
    Incident as IncidentFact,
)
from app.risk.validation import ValidatedAnswers, validate_answers


@dataclass(frozen=True)
class Evaluation:
    score: int | None
    result: dict[str, Any]
    risk_level: RiskLevel | None
    referral_criteria_met: bool | None = None
    next_review_on: date | None = None


def stored_payload(assessment: Assessment) -> dict[str, Any]:
    """The stored answer set as validation sees it without the case key: a
    sealed judgement text only as given (app/risk/judgement_text.py)."""
    return {
        "instrument_code": assessment.instrument_code,
        "instrument_version": assessment.instrument_version,
        "answers": assessment.answers,
        "judgement": for_validation(assessment.judgement),
    }


async def revalidate(session: AsyncSession, assessment: Assessment) -> ValidatedAnswers:
    """The stored answers against their pinned version, exactly as it was published."""
    entry = await catalogue.get(session, assessment.instrument_code, assessment.instrument_version)
    if entry.content_hash != assessment.instrument_hash:
        raise ImmutableVersionChanged(
            f"{assessment.instrument_code}@{assessment.instrument_version} changed after use"
        )
    complete = assessment.status == "submitted"
    return validate_answers(entry.definition, stored_payload(assessment), complete=complete)


async def incidents_of(session: AsyncSession, case_id: uuid.UUID) -> list[IncidentFact]:
    rows = await session.execute(
        select(Incident.occurred_on, Incident.police_reported).where(Incident.case_id == case_id)
    )
    return [IncidentFact(occurred_on=day, police_reported=police) for day, police in rows]


async def latest_submitted(
    session: AsyncSession, case_id: uuid.UUID, scheme: Scheme
) -> Assessment | None:
    result: Assessment | None = await session.scalar(
        select(Assessment)
        .where(
            Assessment.case_id == case_id,
            Assessment.scheme == scheme.value,
            Assessment.status == "submitted",
        )
        .order_by(Assessment.submitted_at.desc(), Assessment.id.desc())
        .limit(1)
    )
    return result


def _shipped_marak() -> InstrumentDefinition:
    return next(e.definition for e in default_registry() if e.definition.scheme == Scheme.MARAK)


async def marak_outcome(
    session: AsyncSession,
    case_id: uuid.UUID,
    answers: ValidatedAnswers,
    today: date,
    config: RiskConfig,
) -> MarakOutcome:
    """All four criteria for these answers, with the case's incidents and the pair's history."""
    return marak_criteria(
        answers,
        as_of=today,
        incidents=await incidents_of(session, case_id),
        last_referral_on=await last_referral_on(session, case_id),
        policy=config.marak,
    )


async def live_marak_outcome(
    session: AsyncSession, case_id: uuid.UUID, today: date, config: RiskConfig
) -> tuple[Assessment | None, MarakOutcome]:
    """The criteria as of today: the latest checklist with today's incidents and referrals.

    Without a checklist only escalation and repeat can be met (the answers are
    empty), which is what a new incident on an unassessed case needs to know.
    """
    latest = await latest_submitted(session, case_id, Scheme.MARAK)
    if latest is not None:
        answers = await revalidate(session, latest)
    else:
        answers = ValidatedAnswers(_shipped_marak(), {}, {}, complete=False)
    return latest, await marak_outcome(session, case_id, answers, today, config)


def _ankkuri_summary(answers: ValidatedAnswers) -> dict[str, Any]:
    by_level: dict[str, list[str]] = {o.code: [] for o in answers.definition.answer_scale.options}
    for item, answer in answers.answers.items():
        by_level[answer.value].append(item)
    return {"domains_by_concern": by_level}


async def evaluate(
    session: AsyncSession,
    case: Case,
    answers: ValidatedAnswers,
    today: date,
    config: RiskConfig,
) -> Evaluation:
    """The server's outcome of a complete answer set, as of ``today``."""
    scheme = answers.definition.scheme
    if scheme == Scheme.MARAK:
        outcome = await marak_outcome(session, case.id, answers, today, config)
        return Evaluation(
            score=outcome.score,
            result=outcome.model_dump(mode="json"),
            risk_level=outcome.risk_level,
            referral_criteria_met=outcome.referral_criteria_met,
        )
    if scheme == Scheme.HAH:
        hah = hah_outcome(answers, assessed_on=today, policy=config.hah)
        return Evaluation(
            score=None,
            result={
                "priority": hah.priority.value,
                "review_interval_days": config.hah.review_days[hah.priority],
                "next_review_on": hah.next_review_on.isoformat(),
            },
            risk_level=hah.risk_level,
            next_review_on=hah.next_review_on,
        )
    return Evaluation(
        score=compute_score(answers), result=_ankkuri_summary(answers), risk_level=None
    )


def apply_to_case(
    session: AsyncSession,
    principal: Principal | None,
    case: Case,
    evaluation: Evaluation,
    scheme: Scheme,
) -> None:
    """The latest submitted assessment decides the case's risk level (Ankkuri sets none).

    Marak: ``high`` when any criterion is met, otherwise no level -- the
    checklist identifies high risk, it does not grade the rest. HAH: the
    person's summary priority, and the next review by its interval.
    """
    if scheme == Scheme.ANKKURI:
        return
    before = (case.risk_level, case.next_review_at)
    case.risk_level = evaluation.risk_level.value if evaluation.risk_level else None
    if scheme == Scheme.HAH and evaluation.next_review_on is not None:
        case.next_review_at = review_due(evaluation.next_review_on)
    if (case.risk_level, case.next_review_at) != before:
        audit.record(session, principal, "case.risk.updated", "case", case.id, purpose="case work")


def raise_on_new_criterion(
    session: AsyncSession, principal: Principal, case: Case, outcome: MarakOutcome
) -> None:
    """A new incident can meet escalation or repeat by itself: the case is then high risk.

    Never lowers the level: only a new assessment does that.
    """
    if outcome.referral_criteria_met and case.risk_level != RiskLevel.HIGH.value:
        case.risk_level = RiskLevel.HIGH.value
        audit.record(session, principal, "case.risk.updated", "case", case.id, purpose="case work")


def criterion(outcome: MarakOutcome, which: Criterion) -> Any:
    return next(c for c in outcome.criteria if c.criterion == which)

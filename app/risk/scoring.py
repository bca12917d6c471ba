"""Scores and the decisions that follow from them, computed by the server only.

Everything here is a pure function of a validated answer set and plain inputs
(dates, incident lists, configured counts). The caller supplies "today" as
``as_of``, so the 12-month windows are testable at their exact boundaries and
the same inputs always give the same result when an assessment is re-read.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel

from app.cases.lifecycle import Scheme
from app.risk.exceptions import InvalidAnswers, JudgementDowngrade
from app.risk.schemas import FieldKind, InstrumentDefinition, RiskLevel, ScoringRule
from app.risk.validation import ValidatedAnswers, error

# Field codes that give a Marak or HAH definition its meaning. Every version of
# those instruments must define them (checked at load by contract_errors()).
MARAK_JUDGEMENT = "professional_judgement"
MARAK_REASONS = "judgement_reasons"
HAH_PRIORITY = "priority"
HAH_NEXT_REVIEW = "next_review_date"


class Judgement(StrEnum):
    REFER_HIGH_RISK = "refer_high_risk"
    NOT_HIGH_RISK = "not_high_risk"


class Criterion(StrEnum):
    VISIBLE_HIGH_RISK = "visible_high_risk"
    PROFESSIONAL_JUDGEMENT = "professional_judgement"
    POTENTIAL_ESCALATION = "potential_escalation"
    REPEAT = "repeat"


Fact = int | str | bool | None


class CriterionResult(BaseModel):
    criterion: Criterion
    met: bool
    reason: str
    facts: dict[str, Fact]


class MarakOutcome(BaseModel):
    """All four criteria, met or not, each with the reason a person can check."""

    score: int
    threshold: int
    criteria: list[CriterionResult]
    referral_criteria_met: bool
    #: ``high`` when any criterion is met. The checklist identifies high risk; it
    #: does not grade the rest, so below the criteria there is no level (None).
    risk_level: RiskLevel | None
    #: While set, every Marak member sees the "repeat" flag; it lapses by itself.
    repeat_flag_until: date | None


@dataclass(frozen=True)
class Incident:
    """An incident between the case's victim and perpetrator. It need not be a crime."""

    occurred_on: date
    police_reported: bool


@dataclass(frozen=True)
class MarakPolicy:
    """Area configuration. Some areas count 5 incidents instead of 3."""

    escalation_incidents: int = 3
    window_months: int = 12

    def __post_init__(self) -> None:
        if self.escalation_incidents < 1 or self.window_months < 1:
            raise ValueError("escalation_incidents and window_months must be positive")


def compute_score(answers: ValidatedAnswers) -> int | None:
    """Number of answers equal to the counted value (``yes``); None when nothing is scored."""
    scoring = answers.definition.scoring
    if scoring.rule == ScoringRule.NONE:
        return None
    return sum(1 for a in answers.answers.values() if a.value == scoring.counted_value)


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's end (29 Feb + 12 months = 28 Feb)."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def marak_criteria(
    answers: ValidatedAnswers,
    *,
    as_of: date,
    incidents: Sequence[Incident] = (),
    last_referral_on: date | None = None,
    policy: MarakPolicy | None = None,
) -> MarakOutcome:
    """Evaluate the four Marak referral criteria; any one of them is enough to refer.

    ``last_referral_on`` is the date of the latest Marak referral of the same
    victim and perpetrator (from any case, visible to the caller or not); only
    that date is ever shown, never the other case.

    Raises :class:`JudgementDowngrade` when judgement says "not high risk" for a
    score at or above the threshold: judgement exists to catch risk the
    checklist misses, never to explain away risk the checklist has shown.
    """
    definition = answers.definition
    if definition.scheme != Scheme.MARAK or definition.scoring.threshold is None:
        raise ValueError(f"{definition.code}@{definition.version} is not a scored Marak checklist")
    policy = policy or MarakPolicy()
    score = compute_score(answers) or 0
    threshold = definition.scoring.threshold
    criteria = [
        _visible_high_risk(score, threshold),
        _professional_judgement(answers, score, threshold),
        _potential_escalation(incidents, as_of, policy),
    ]
    repeat, flag_until = _repeat(incidents, last_referral_on, as_of, policy)
    criteria.append(repeat)
    met = any(c.met for c in criteria)
    return MarakOutcome(
        score=score,
        threshold=threshold,
        criteria=criteria,
        referral_criteria_met=met,
        risk_level=RiskLevel.HIGH if met else None,
        repeat_flag_until=flag_until,
    )


def _visible_high_risk(score: int, threshold: int) -> CriterionResult:
    met = score >= threshold
    relation = "at or above" if met else "below"
    return CriterionResult(
        criterion=Criterion.VISIBLE_HIGH_RISK,
        met=met,
        reason=f"Score {score} is {relation} the threshold {threshold}.",
        facts={"score": score, "threshold": threshold},
    )


def _professional_judgement(
    answers: ValidatedAnswers, score: int, threshold: int
) -> CriterionResult:
    """A professional may raise a case the checklist rates below the threshold.

    The reasons must be written down so that the Marak group (and later an
    auditor) can see why the case came in. A flag without reasons (a draft)
    does not count.
    """
    judgement = answers.judgement.get(MARAK_JUDGEMENT)
    reasons = answers.judgement.get(MARAK_REASONS)
    if judgement == Judgement.NOT_HIGH_RISK and score >= threshold:
        raise JudgementDowngrade(
            f"Score {score} is at or above the threshold {threshold}; professional judgement "
            "may raise a case but never mark a visible high risk as not high.",
            extra={
                "errors": [
                    error(f"judgement.{MARAK_JUDGEMENT}", "judgement_downgrade", "Not allowed.")
                ]
            },
        )
    met = judgement == Judgement.REFER_HIGH_RISK and bool(reasons)
    if met:
        reason = "Referred on professional judgement, with written reasons."
    elif judgement == Judgement.REFER_HIGH_RISK:
        reason = "Judgement flag set, but the written reasons are missing."
    elif judgement == Judgement.NOT_HIGH_RISK:
        reason = "Professional judgement: not high risk."
    else:
        reason = "No professional judgement recorded."
    return CriterionResult(
        criterion=Criterion.PROFESSIONAL_JUDGEMENT,
        met=met,
        reason=reason,
        facts={"judgement": str(judgement) if judgement else None, "reasons_given": bool(reasons)},
    )


def _potential_escalation(
    incidents: Sequence[Incident], as_of: date, policy: MarakPolicy
) -> CriterionResult:
    """Repeated police call-outs signal escalation even when each incident looks minor.

    The window includes its first day: an incident exactly 12 months before
    ``as_of`` counts, one a day earlier does not.
    """
    since = add_months(as_of, -policy.window_months)
    count = sum(1 for i in incidents if i.police_reported and since <= i.occurred_on <= as_of)
    met = count >= policy.escalation_incidents
    return CriterionResult(
        criterion=Criterion.POTENTIAL_ESCALATION,
        met=met,
        reason=(
            f"{count} police-reported incident(s) since {since.isoformat()}; "
            f"{policy.escalation_incidents} are needed."
        ),
        facts={
            "police_reported_incidents": count,
            "required": policy.escalation_incidents,
            "since": since.isoformat(),
        },
    )


def _repeat(
    incidents: Sequence[Incident],
    last_referral_on: date | None,
    as_of: date,
    policy: MarakPolicy,
) -> tuple[CriterionResult, date | None]:
    """A new incident within 12 months of the last referral goes back to Marak, whatever the score.

    The group already judged this couple high risk. A second checklist can
    score low for many reasons (fear, minimising, the perpetrator close by),
    so the renewed incident itself is the signal, and a low score must not
    keep the case from the group that knows its history. The incident must
    fall after the referral date and at most 12 months after it; it need not
    be a crime.
    """
    if last_referral_on is None:
        return (
            CriterionResult(
                criterion=Criterion.REPEAT,
                met=False,
                reason="No earlier Marak referral of this victim and perpetrator.",
                facts={"last_referral_on": None, "flag_until": None},
            ),
            None,
        )
    until = add_months(last_referral_on, policy.window_months)
    flag_until = until if as_of <= until else None
    met = any(last_referral_on < i.occurred_on <= min(until, as_of) for i in incidents)
    reason = (
        f"New incident within {policy.window_months} months of the Marak referral on "
        f"{last_referral_on.isoformat()}."
        if met
        else f"No new incident between {last_referral_on.isoformat()} and {until.isoformat()}."
    )
    return (
        CriterionResult(
            criterion=Criterion.REPEAT,
            met=met,
            reason=reason,
            facts={
                "last_referral_on": last_referral_on.isoformat(),
                "flag_until": until.isoformat(),
            },
        ),
        flag_until,
    )


def repeat_flag_active(last_referral_on: date | None, as_of: date, window_months: int = 12) -> bool:
    """Whether the "repeat" flag shows today; it lapses by itself after the window."""
    return last_referral_on is not None and as_of <= add_months(last_referral_on, window_months)


# --- HAH -------------------------------------------------------------------------------


def _default_review_days() -> dict[RiskLevel, int]:
    return {RiskLevel.HIGH: 14, RiskLevel.MODERATE: 60, RiskLevel.LOW: 180}


@dataclass(frozen=True)
class HahPolicy:
    """Longest interval between reviews per priority (configurable per deployment)."""

    review_days: Mapping[RiskLevel, int] = field(default_factory=_default_review_days)


class HahOutcome(BaseModel):
    priority: RiskLevel
    risk_level: RiskLevel
    next_review_on: date


def hah_outcome(
    answers: ValidatedAnswers, *, assessed_on: date, policy: HahPolicy | None = None
) -> HahOutcome:
    """The person's summary priority sets the case's risk level and next review.

    No item count decides HAH risk. The priority's interval is the longest the
    case may go unreviewed; an assessor may set an earlier review date, never a
    later one, and never one before the assessment.
    """
    policy = policy or HahPolicy()
    priority = answers.judgement.get(HAH_PRIORITY)
    if not isinstance(priority, str):
        raise InvalidAnswers(
            [error(f"judgement.{HAH_PRIORITY}", "missing_required", "This field is required.")]
        )
    level = RiskLevel(priority)
    latest = assessed_on + timedelta(days=policy.review_days[level])
    entered = answers.judgement.get(HAH_NEXT_REVIEW)
    if isinstance(entered, date) and entered < assessed_on:
        raise InvalidAnswers(
            [error(f"judgement.{HAH_NEXT_REVIEW}", "before_assessment", "Must not be in the past.")]
        )
    next_review = min(entered, latest) if isinstance(entered, date) else latest
    return HahOutcome(priority=level, risk_level=level, next_review_on=next_review)


def hah_may_close(latest_priority: RiskLevel | None, closure_decision: str | None) -> bool:
    """An HAH case closes only on a documented "no longer a threat / risk low" decision."""
    return latest_priority == RiskLevel.LOW and bool(closure_decision and closure_decision.strip())


# --- definition contracts ----------------------------------------------------------------


def contract_errors(definition: InstrumentDefinition) -> list[str]:
    """What a scheme's logic needs from any version of its instrument, checked at load."""
    problems: list[str] = []
    if definition.scheme == Scheme.MARAK:
        if definition.scoring.rule != ScoringRule.SUM_YES:
            problems.append("a Marak checklist is scored (sum_yes)")
        judgement = definition.field(MARAK_JUDGEMENT)
        if judgement is None or judgement.kind != FieldKind.CHOICE:
            problems.append(f"a Marak checklist needs the choice field {MARAK_JUDGEMENT!r}")
        elif judgement.option_codes != {j.value for j in Judgement}:
            problems.append(f"{MARAK_JUDGEMENT!r} options must be {sorted(Judgement)}")
        reasons = definition.field(MARAK_REASONS)
        if reasons is None or reasons.kind != FieldKind.TEXT or reasons.required_when is None:
            problems.append(f"{MARAK_REASONS!r} must be a text field required with a judgement")
    if definition.scheme == Scheme.HAH:
        priority = definition.field(HAH_PRIORITY)
        if priority is None or not priority.required or priority.kind != FieldKind.CHOICE:
            problems.append(f"an HAH instrument needs the required choice field {HAH_PRIORITY!r}")
        elif priority.option_codes != {r.value for r in RiskLevel}:
            problems.append(f"{HAH_PRIORITY!r} options must be {sorted(RiskLevel)}")
        review = definition.field(HAH_NEXT_REVIEW)
        if review is None or review.kind != FieldKind.DATE:
            problems.append(f"an HAH instrument needs the date field {HAH_NEXT_REVIEW!r}")
    return problems

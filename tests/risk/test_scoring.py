"""Scores, the four Marak referral criteria at their boundaries, and the HAH outcome."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.risk.exceptions import InvalidAnswers, JudgementDowngrade
from app.risk.schemas import InstrumentDefinition, RiskLevel
from app.risk.scoring import (
    Criterion,
    HahPolicy,
    Incident,
    MarakOutcome,
    MarakPolicy,
    add_months,
    compute_score,
    hah_may_close,
    hah_outcome,
    marak_criteria,
    repeat_flag_active,
)
from app.risk.validation import ValidatedAnswers, validate_answers
from tests.risk.answers import ankkuri, definition, hah, marak

TODAY = date(2025, 6, 15)
YEAR_AGO = date(2024, 6, 15)
REASONS = "Escalating controlling behaviour; victim minimises."


def checked(payload: dict[str, Any], d: InstrumentDefinition | None = None) -> ValidatedAnswers:
    return validate_answers(d or definition(payload["instrument_code"]), payload)


def outcome(yes: int = 0, judgement: dict[str, Any] | None = None, **kw: Any) -> MarakOutcome:
    kw.setdefault("as_of", TODAY)
    return marak_criteria(checked(marak(yes, **(judgement or {}))), **kw)


def met(result: MarakOutcome) -> set[Criterion]:
    return {c.criterion for c in result.criteria if c.met}


def with_threshold(threshold: int) -> InstrumentDefinition:
    d = definition("marak-ric")
    return d.model_copy(update={"scoring": d.scoring.model_copy(update={"threshold": threshold})})


def police(*days: date) -> list[Incident]:
    return [Incident(occurred_on=d, police_reported=True) for d in days]


class TestScore:
    @pytest.mark.parametrize("yes", [0, 1, 13, 24])
    def test_the_score_is_the_number_of_yes_answers(self, yes: int) -> None:
        assert compute_score(checked(marak(yes))) == yes

    def test_unknown_is_not_yes(self) -> None:
        payload = marak(0)
        for answer in payload["answers"]:
            answer["value"] = "unknown"
        assert compute_score(checked(payload)) == 0

    @pytest.mark.parametrize("build", [hah, ankkuri])
    def test_unscored_instruments_have_no_score(self, build: Any) -> None:
        assert compute_score(checked(build())) is None


class TestVisibleHighRisk:
    @pytest.mark.parametrize(("yes", "expected"), [(13, False), (14, True), (15, True)])
    def test_score_against_the_threshold_14(self, yes: int, expected: bool) -> None:
        result = outcome(yes)
        assert (Criterion.VISIBLE_HIGH_RISK in met(result)) is expected
        assert result.referral_criteria_met is expected
        assert result.risk_level == (RiskLevel.HIGH if expected else None)
        assert result.criteria[0].facts == {"score": yes, "threshold": 14}

    def test_the_threshold_comes_from_the_definition(self) -> None:
        answers = checked(marak(10), with_threshold(10))
        assert marak_criteria(answers, as_of=TODAY).referral_criteria_met
        answers = checked(marak(10), with_threshold(11))
        assert not marak_criteria(answers, as_of=TODAY).referral_criteria_met

    def test_every_criterion_is_reported_with_a_reason(self) -> None:
        result = outcome(15)
        assert [c.criterion for c in result.criteria] == list(Criterion)
        assert all(c.reason for c in result.criteria)
        assert "at or above the threshold 14" in result.criteria[0].reason

    def test_only_marak_definitions_are_evaluated(self) -> None:
        with pytest.raises(ValueError, match="not a scored Marak"):
            marak_criteria(checked(hah()), as_of=TODAY)


class TestProfessionalJudgement:
    def test_judgement_with_reasons_raises_a_case_below_the_threshold(self) -> None:
        judgement = {"professional_judgement": "refer_high_risk", "judgement_reasons": REASONS}
        result = outcome(5, judgement)
        assert met(result) == {Criterion.PROFESSIONAL_JUDGEMENT}
        assert result.risk_level == RiskLevel.HIGH

    def test_a_flag_without_reasons_does_not_refer(self) -> None:
        draft = validate_answers(
            definition("marak-ric"),
            marak(5, professional_judgement="refer_high_risk"),
            complete=False,
        )
        result = marak_criteria(draft, as_of=TODAY)
        assert not result.referral_criteria_met
        assert "reasons are missing" in result.criteria[1].reason

    @pytest.mark.parametrize("yes", [14, 15, 24])
    def test_judgement_may_never_downgrade_a_visible_high_risk(self, yes: int) -> None:
        judgement = {"professional_judgement": "not_high_risk", "judgement_reasons": "Calm now."}
        with pytest.raises(JudgementDowngrade) as caught:
            outcome(yes, judgement)
        assert caught.value.status == 422
        assert caught.value.extra["errors"][0]["reason"] == "judgement_downgrade"

    def test_judgement_not_high_below_the_threshold_is_recorded(self) -> None:
        judgement = {"professional_judgement": "not_high_risk", "judgement_reasons": "Calm now."}
        result = outcome(13, judgement)
        assert not result.referral_criteria_met
        assert result.criteria[1].facts["judgement"] == "not_high_risk"

    def test_judgement_not_high_does_not_cancel_another_criterion(self) -> None:
        judgement = {"professional_judgement": "not_high_risk", "judgement_reasons": "Calm now."}
        incidents = police(date(2025, 1, 1), date(2025, 3, 1), date(2025, 5, 1))
        assert met(outcome(2, judgement, incidents=incidents)) == {Criterion.POTENTIAL_ESCALATION}


class TestPotentialEscalation:
    def test_three_police_reported_incidents_in_12_months(self) -> None:
        incidents = police(YEAR_AGO, date(2025, 1, 1), TODAY)
        result = outcome(0, incidents=incidents)
        assert met(result) == {Criterion.POTENTIAL_ESCALATION}
        assert result.criteria[2].facts["police_reported_incidents"] == 3

    def test_an_incident_exactly_12_months_ago_counts(self) -> None:
        assert met(outcome(incidents=police(YEAR_AGO, date(2025, 1, 1), date(2025, 2, 1))))

    def test_an_incident_12_months_and_a_day_ago_does_not(self) -> None:
        incidents = police(YEAR_AGO - timedelta(days=1), date(2025, 1, 1), date(2025, 2, 1))
        result = outcome(incidents=incidents)
        assert not result.referral_criteria_met
        assert result.criteria[2].facts["police_reported_incidents"] == 2

    def test_incidents_not_reported_to_police_do_not_count(self) -> None:
        incidents = [*police(date(2025, 1, 1), date(2025, 2, 1))]
        incidents.append(Incident(occurred_on=date(2025, 3, 1), police_reported=False))
        assert not outcome(incidents=incidents).referral_criteria_met

    def test_the_count_is_configurable(self) -> None:
        days = [date(2025, m, 1) for m in range(1, 6)]
        five = MarakPolicy(escalation_incidents=5)
        assert not outcome(incidents=police(*days[:4]), policy=five).referral_criteria_met
        result = outcome(incidents=police(*days), policy=five)
        assert met(result) == {Criterion.POTENTIAL_ESCALATION}
        assert result.criteria[2].facts["required"] == 5

    def test_the_policy_refuses_nonsense(self) -> None:
        with pytest.raises(ValueError):
            MarakPolicy(escalation_incidents=0)


class TestRepeat:
    def test_a_new_incident_within_12_months_of_the_referral_refers_whatever_the_score(
        self,
    ) -> None:
        incidents = [Incident(occurred_on=date(2025, 5, 1), police_reported=False)]
        result = outcome(0, incidents=incidents, last_referral_on=date(2024, 9, 1))
        assert met(result) == {Criterion.REPEAT}
        assert result.risk_level == RiskLevel.HIGH
        assert result.criteria[3].facts == {
            "last_referral_on": "2024-09-01",
            "flag_until": "2025-09-01",
        }

    def test_an_incident_exactly_12_months_after_the_referral_counts(self) -> None:
        incidents = [Incident(occurred_on=TODAY, police_reported=True)]
        assert met(outcome(incidents=incidents, last_referral_on=YEAR_AGO)) == {Criterion.REPEAT}

    def test_an_incident_12_months_and_a_day_after_the_referral_does_not(self) -> None:
        incidents = [Incident(occurred_on=TODAY, police_reported=True)]
        last = YEAR_AGO - timedelta(days=1)
        result = outcome(incidents=incidents, last_referral_on=last)
        assert not result.referral_criteria_met
        assert result.repeat_flag_until is None

    def test_the_incident_that_led_to_the_referral_is_not_new(self) -> None:
        incidents = [Incident(occurred_on=YEAR_AGO, police_reported=True)]
        assert not outcome(incidents=incidents, last_referral_on=YEAR_AGO).referral_criteria_met

    def test_incidents_after_today_are_ignored(self) -> None:
        incidents = [Incident(occurred_on=TODAY + timedelta(days=1), police_reported=True)]
        result = outcome(incidents=incidents, last_referral_on=date(2025, 1, 1))
        assert not result.referral_criteria_met

    def test_without_an_earlier_referral_there_is_no_repeat(self) -> None:
        result = outcome(incidents=[Incident(occurred_on=TODAY, police_reported=True)])
        assert result.criteria[3].facts == {"last_referral_on": None, "flag_until": None}
        assert result.repeat_flag_until is None

    def test_the_flag_is_visible_for_12_months_and_lapses_by_itself(self) -> None:
        assert outcome(last_referral_on=YEAR_AGO).repeat_flag_until == TODAY
        assert repeat_flag_active(YEAR_AGO, TODAY)
        assert not repeat_flag_active(YEAR_AGO, TODAY + timedelta(days=1))
        assert not repeat_flag_active(None, TODAY)

    def test_all_criteria_can_hold_at_once(self) -> None:
        judgement = {"professional_judgement": "refer_high_risk", "judgement_reasons": REASONS}
        result = outcome(
            20,
            judgement,
            incidents=police(date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)),
            last_referral_on=date(2024, 12, 1),
        )
        assert met(result) == set(Criterion)


class TestCalendarMonths:
    @pytest.mark.parametrize(
        ("day", "months", "expected"),
        [
            (date(2024, 2, 29), 12, date(2025, 2, 28)),
            (date(2025, 2, 28), -12, date(2024, 2, 28)),
            (date(2025, 1, 31), 1, date(2025, 2, 28)),
            (date(2025, 12, 15), 1, date(2026, 1, 15)),
            (date(2025, 1, 15), -1, date(2024, 12, 15)),
        ],
    )
    def test_add_months(self, day: date, months: int, expected: date) -> None:
        assert add_months(day, months) == expected


class TestHah:
    @pytest.mark.parametrize(("priority", "days"), [("high", 14), ("moderate", 60), ("low", 180)])
    def test_priority_sets_risk_level_and_the_latest_review(self, priority: str, days: int) -> None:
        result = hah_outcome(checked(hah(priority=priority)), assessed_on=TODAY)
        assert result.risk_level == RiskLevel(priority)
        assert result.next_review_on == TODAY + timedelta(days=days)

    def test_review_intervals_are_configurable(self) -> None:
        policy = HahPolicy(
            review_days={RiskLevel.HIGH: 7, RiskLevel.MODERATE: 30, RiskLevel.LOW: 90}
        )
        result = hah_outcome(checked(hah(priority="high")), assessed_on=TODAY, policy=policy)
        assert result.next_review_on == TODAY + timedelta(days=7)

    def test_an_earlier_review_date_is_kept(self) -> None:
        answers = checked(hah(priority="low", next_review_date="2025-07-01"))
        assert hah_outcome(answers, assessed_on=TODAY).next_review_on == date(2025, 7, 1)

    def test_a_later_review_date_than_the_priority_allows_is_capped(self) -> None:
        answers = checked(hah(priority="high", next_review_date="2025-12-31"))
        assert hah_outcome(answers, assessed_on=TODAY).next_review_on == date(2025, 6, 29)

    def test_a_review_date_before_the_assessment_is_rejected(self) -> None:
        answers = checked(hah(next_review_date="2025-06-14"))
        with pytest.raises(InvalidAnswers) as caught:
            hah_outcome(answers, assessed_on=TODAY)
        assert caught.value.errors[0]["reason"] == "before_assessment"

    def test_closing_needs_low_priority_and_a_written_decision(self) -> None:
        assert hah_may_close(RiskLevel.LOW, "No longer a threat: risk low.")
        assert not hah_may_close(RiskLevel.LOW, "  ")
        assert not hah_may_close(RiskLevel.MODERATE, "Decision.")
        assert not hah_may_close(None, "Decision.")

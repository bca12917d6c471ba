"""Answers are checked against the pinned version; every fault is listed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.risk.exceptions import InvalidAnswers
from app.risk.validation import validate_answers
from tests.risk.answers import ankkuri, definition, hah, marak

MARAK = "marak-ric"


def faults(code: str, payload: dict[str, Any], complete: bool = True) -> list[tuple[str, str]]:
    with pytest.raises(InvalidAnswers) as caught:
        validate_answers(definition(code), payload, complete=complete)
    assert caught.value.status == 422
    return [(e["field"], e["reason"]) for e in caught.value.errors]


class TestValidAnswers:
    def test_a_complete_marak_checklist_validates_in_definition_order(self) -> None:
        payload = marak(yes=3)
        payload["answers"].reverse()
        result = validate_answers(definition(MARAK), payload)
        assert list(result.answers) == [i.code for i in definition(MARAK).items]
        assert result.complete

    def test_a_source_may_be_given_when_it_is_not_the_victim(self) -> None:
        payload = marak()
        payload["answers"][0]["source"] = "neighbour"
        assert validate_answers(definition(MARAK), payload).answers["injury"].source == "neighbour"

    def test_hah_judgement_values_get_their_types(self) -> None:
        result = validate_answers(
            definition("hah-warning-behaviours"), hah(next_review_date="2025-06-30")
        )
        assert result.judgement["next_review_date"] == date(2025, 6, 30)
        assert result.judgement["priority"] == "moderate"

    def test_ankkuri_services_are_a_multi_choice(self) -> None:
        payload = ankkuri(recommended_services=["mental_health", "youth_services"])
        result = validate_answers(definition("ankkuri-needs"), payload)
        assert result.judgement["recommended_services"] == ("mental_health", "youth_services")

    def test_a_draft_may_leave_required_items_open(self) -> None:
        payload = marak()
        payload["answers"] = payload["answers"][:5]
        result = validate_answers(definition(MARAK), payload, complete=False)
        assert len(result.answers) == 5 and not result.complete


class TestInvalidAnswers:
    def test_a_missing_required_item_is_named(self) -> None:
        payload = marak()
        payload["answers"] = [a for a in payload["answers"] if a["item"] != "weapons"]
        assert faults(MARAK, payload) == [("answers.weapons", "missing_required")]

    def test_an_unknown_item_is_pointed_at_by_position(self) -> None:
        payload = marak()
        payload["answers"].append({"item": "horoscope", "value": "yes"})
        assert faults(MARAK, payload) == [("answers[24].item", "unknown_item")]

    def test_an_item_answered_twice(self) -> None:
        payload = marak()
        payload["answers"].append({"item": "injury", "value": "no"})
        assert faults(MARAK, payload) == [("answers.injury", "duplicate_item")]

    def test_a_value_off_the_scale(self) -> None:
        payload = marak()
        payload["answers"][0]["value"] = "present"
        assert faults(MARAK, payload) == [("answers.injury.value", "invalid_value")]

    def test_a_detail_the_instrument_does_not_use(self) -> None:
        payload = marak()
        payload["answers"][0]["evidence"] = "x"
        assert faults(MARAK, payload) == [("answers.injury.evidence", "detail_not_allowed")]

    def test_a_detail_over_its_length(self) -> None:
        payload = marak()
        payload["answers"][0]["source"] = "x" * 501
        assert faults(MARAK, payload) == [("answers.injury.source", "too_long")]

    @pytest.mark.parametrize("key", ["score", "risk_level", "criteria"])
    def test_a_client_sent_result_is_rejected(self, key: str) -> None:
        payload = {**marak(yes=20), key: 20}
        assert faults(MARAK, payload) == [(key, "server_computed")]

    def test_a_client_sent_score_is_rejected_even_with_other_faults(self) -> None:
        payload = {**marak(), "score": 1, "extra": True}
        assert faults(MARAK, payload) == [
            ("score", "server_computed"),
            ("extra", "extra_forbidden"),
        ]

    def test_an_extra_field_on_an_answer_is_rejected(self) -> None:
        payload = marak()
        payload["answers"][0]["score"] = 1
        assert faults(MARAK, payload) == [("answers.0.score", "extra_forbidden")]

    def test_answers_pinned_to_another_version(self) -> None:
        payload = {**marak(), "instrument_version": 2}
        assert faults(MARAK, payload) == [("instrument_version", "instrument_mismatch")]

    def test_a_judgement_needs_written_reasons(self) -> None:
        payload = marak(professional_judgement="refer_high_risk")
        assert faults(MARAK, payload) == [("judgement.judgement_reasons", "missing_required")]

    def test_an_unknown_judgement_field_and_option(self) -> None:
        payload = marak(professional_judgement="maybe", gut_feeling="bad")
        assert sorted(faults(MARAK, payload)) == [
            ("judgement.gut_feeling", "unknown_field"),
            ("judgement.professional_judgement", "invalid_value"),
        ]

    def test_hah_needs_the_summary_judgement(self) -> None:
        payload = hah()
        del payload["judgement"]["priority"], payload["judgement"]["formulation"]
        assert faults("hah-warning-behaviours", payload) == [
            ("judgement.priority", "missing_required"),
            ("judgement.formulation", "missing_required"),
        ]

    @pytest.mark.parametrize("value", ["30.6.2025", "2025-6-30", "2025-02-30", True])
    def test_a_review_date_must_be_an_iso_date(self, value: Any) -> None:
        assert faults("hah-warning-behaviours", hah(next_review_date=value)) == [
            ("judgement.next_review_date", "invalid_value")
        ]

    def test_a_blank_formulation_does_not_count(self) -> None:
        assert faults("hah-warning-behaviours", hah(formulation="   ")) == [
            ("judgement.formulation", "invalid_value")
        ]

    def test_services_must_be_distinct_known_options(self) -> None:
        payload = ankkuri(recommended_services=["mental_health", "mental_health"])
        assert faults("ankkuri-needs", payload) == [
            ("judgement.recommended_services", "invalid_value")
        ]

    def test_a_draft_still_rejects_unknown_items(self) -> None:
        payload = marak()
        payload["answers"] = [{"item": "horoscope", "value": "yes"}]
        assert faults(MARAK, payload, complete=False) == [("answers[0].item", "unknown_item")]

    def test_errors_never_echo_submitted_text(self) -> None:
        secret = "Lives at Secret Street 1"
        payload = marak(professional_judgement="refer_high_risk", judgement_reasons="x" * 5001)
        payload["answers"][0]["source"] = secret + "x" * 500
        with pytest.raises(InvalidAnswers) as caught:
            validate_answers(definition(MARAK), payload)
        assert secret not in repr(caught.value.errors)
        assert "xxxxx" not in repr(caught.value.errors)

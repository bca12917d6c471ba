"""The shipped instrument definitions and the definition schema itself."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from app.platform.language import Language
from app.risk.instruments import PUBLISHED_FILE, default_registry, shipped_directory
from app.risk.schemas import (
    ExternalAssessmentRecord,
    InstrumentDefinition,
    Item,
    JudgementField,
    ScoringRule,
)
from tests.risk.answers import definition

SHIPPED = ["ankkuri-needs", "hah-warning-behaviours", "marak-ric"]

MARAK_TOPIC_ORDER = [
    "injury",
    "very_frightened",
    "what_is_feared",
    "isolation",
    "depression_suicidal_thoughts",
    "separation_past_year",
    "child_contact_conflict",
    "stalking_harassment",
    "pregnancy_or_baby",
    "abuse_more_often",
    "abuse_getting_worse",
    "control_jealousy",
    "weapons",
    "threats_to_kill",
    "strangulation_choking",
    "sexual_abuse",
    "another_person_threatening",
    "hurt_others",
    "harm_to_animals",
    "financial_issues",
    "perpetrator_substance_mental_health",
    "perpetrator_suicide_threats",
    "breach_of_bail_or_orders",
    "criminal_history",
]


def raw(code: str) -> dict[str, Any]:
    text = (shipped_directory() / f"{code}@1.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def localised_texts(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every object in the JSON that carries at least one language key."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if set(node) & {"fi", "sv", "en"}:
            found.append((path, node))
        for key, value in node.items():
            found.extend(localised_texts(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(localised_texts(value, f"{path}[{index}]"))
    return found


class TestShippedInstruments:
    def test_every_shipped_instrument_loads(self) -> None:
        keys = [entry.definition.key for entry in default_registry()]
        assert keys == [(code, 1) for code in SHIPPED]

    def test_only_definitions_and_the_publication_list_ship(self) -> None:
        names = sorted(e.name for e in shipped_directory().iterdir())
        assert names == sorted([f"{c}@1.json" for c in SHIPPED] + [PUBLISHED_FILE])

    @pytest.mark.parametrize("code", SHIPPED)
    def test_every_text_has_finnish_swedish_and_english(self, code: str) -> None:
        texts = localised_texts(raw(code))
        assert len(texts) > 10
        for path, text in texts:
            assert set(text) == {"fi", "sv", "en"}, path
            assert all(isinstance(v, str) and v.strip() for v in text.values()), path

    @pytest.mark.parametrize("code", SHIPPED)
    def test_every_item_and_field_is_titled_in_each_language(self, code: str) -> None:
        d = definition(code)
        for language in Language:
            assert d.title.in_language(language)
            entries: list[Item | JudgementField] = [*d.items, *d.judgement_fields]
            for entry in entries:
                assert entry.label.in_language(language), (entry.code, language)

    @pytest.mark.parametrize("code", SHIPPED)
    def test_has_a_licence_note(self, code: str) -> None:
        assert len(definition(code).licence) > 20

    def test_marak_has_24_items_in_the_domain_topic_order(self) -> None:
        d = definition("marak-ric")
        assert [i.code for i in d.items] == MARAK_TOPIC_ORDER
        assert all(i.required for i in d.items)

    def test_marak_is_yes_no_unknown_scored_by_yes_with_threshold_14(self) -> None:
        d = definition("marak-ric")
        assert [o.code for o in d.answer_scale.options] == ["yes", "no", "unknown"]
        assert d.scoring.rule == ScoringRule.SUM_YES
        assert (d.scoring.counted_value, d.scoring.threshold) == ("yes", 14)
        assert [a.code for a in d.answer_details] == ["source"]
        assert {f.code for f in d.judgement_fields} == {
            "professional_judgement",
            "judgement_reasons",
        }

    def test_marak_labels_are_not_the_official_question_wording(self) -> None:
        # Official checklist questions are phrased as questions to the victim.
        for item in definition("marak-ric").items:
            assert not item.label.en.endswith("?")

    def test_hah_has_8_proximal_and_10_distal_items_and_no_score(self) -> None:
        d = definition("hah-warning-behaviours")
        assert len(d.items_in("proximal")) == 8
        assert len(d.items_in("distal")) == 10
        assert d.scoring.rule == ScoringRule.NONE and d.scoring.threshold is None
        assert [o.code for o in d.answer_scale.options] == ["present", "absent", "unknown"]
        assert {a.code for a in d.answer_details} == {"evidence", "source"}
        assert [f.code for f in d.judgement_fields] == [
            "priority",
            "imminence",
            "serious_harm",
            "formulation",
            "next_review_date",
        ]

    def test_ankkuri_has_8_domains_rated_by_concern(self) -> None:
        d = definition("ankkuri-needs")
        assert len(d.items) == 8
        assert [o.code for o in d.answer_scale.options] == [
            "no_concern",
            "some_concern",
            "serious_concern",
        ]
        assert d.scoring.rule == ScoringRule.NONE
        assert {"summary_need", "recommended_services"} <= {f.code for f in d.judgement_fields}


def valid_raw() -> dict[str, Any]:
    return raw("ankkuri-needs")


class TestDefinitionSchema:
    def test_the_shipped_json_validates(self) -> None:
        assert InstrumentDefinition.model_validate(valid_raw()).code == "ankkuri-needs"

    def test_a_missing_swedish_label_is_rejected(self) -> None:
        data = valid_raw()
        del data["items"][0]["label"]["sv"]
        with pytest.raises(ValidationError, match="sv"):
            InstrumentDefinition.model_validate(data)

    def test_a_blank_label_is_rejected(self) -> None:
        data = valid_raw()
        data["title"]["en"] = "   "
        with pytest.raises(ValidationError):
            InstrumentDefinition.model_validate(data)

    def test_an_item_in_an_unknown_section_is_rejected(self) -> None:
        data = valid_raw()
        data["items"][0]["section"] = "nowhere"
        with pytest.raises(ValidationError, match="section"):
            InstrumentDefinition.model_validate(data)

    def test_duplicate_item_codes_are_rejected(self) -> None:
        data = valid_raw()
        data["items"][1]["code"] = data["items"][0]["code"]
        with pytest.raises(ValidationError, match="duplicate"):
            InstrumentDefinition.model_validate(data)

    def test_an_unknown_key_is_rejected(self) -> None:
        data = valid_raw()
        data["score"] = 3
        with pytest.raises(ValidationError):
            InstrumentDefinition.model_validate(data)

    def test_sum_yes_needs_a_threshold_within_the_item_count(self) -> None:
        data = raw("marak-ric")
        data["scoring"]["threshold"] = 25
        with pytest.raises(ValidationError, match="threshold"):
            InstrumentDefinition.model_validate(data)
        del data["scoring"]["threshold"]
        with pytest.raises(ValidationError, match="threshold"):
            InstrumentDefinition.model_validate(data)

    def test_an_unscored_instrument_has_no_threshold(self) -> None:
        data = valid_raw()
        data["scoring"]["threshold"] = 3
        with pytest.raises(ValidationError, match="without a score"):
            InstrumentDefinition.model_validate(data)

    def test_required_when_must_name_a_choice_field_and_its_options(self) -> None:
        data = raw("marak-ric")
        data["judgement_fields"][1]["required_when"]["values"] = ["maybe"]
        with pytest.raises(ValidationError, match="required_when"):
            InstrumentDefinition.model_validate(data)


class TestExternalToolRecord:
    def test_records_only_tool_date_assessor_rating_and_reference(self) -> None:
        record = ExternalAssessmentRecord.model_validate(
            {
                "tool": "hcr-20-v3",
                "assessed_on": "2025-03-01",
                "assessor": "Dr A, forensic psychiatry",
                "summary_rating": "moderate",
                "reference": "Patient record 2025/123",
            }
        )
        assert record.assessed_on == date(2025, 3, 1)
        assert set(ExternalAssessmentRecord.model_fields) == {
            "tool",
            "assessed_on",
            "assessor",
            "summary_rating",
            "reference",
        }

    @pytest.mark.parametrize("smuggled", ["items", "item_ratings", "notes", "H1"])
    def test_item_content_is_refused(self, smuggled: str) -> None:
        with pytest.raises(ValidationError, match="Extra inputs"):
            ExternalAssessmentRecord.model_validate(
                {
                    "tool": "vera-2r",
                    "assessed_on": "2025-03-01",
                    "assessor": "X",
                    "summary_rating": "high",
                    "reference": "R",
                    smuggled: {"H1": "present"},
                }
            )

    def test_unknown_tools_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            ExternalAssessmentRecord.model_validate(
                {
                    "tool": "home-made",
                    "assessed_on": "2025-03-01",
                    "assessor": "X",
                    "summary_rating": "low",
                    "reference": "R",
                }
            )

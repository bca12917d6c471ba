"""Checking a set of answers against the instrument version it pins.

Pure functions: no database, no clock. Every fault is collected, not just the
first, so a client can fix a form in one round trip; the list has the same
shape as the service's request-validation errors (``field``, ``location``,
``reason``, ``message``) and never echoes submitted free text, which may be
personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from app.risk.exceptions import InvalidAnswers
from app.risk.schemas import (
    AnswerDetail,
    AnswerIn,
    AnswerSet,
    FieldKind,
    InstrumentDefinition,
    JudgementField,
    JudgementValue,
)

#: Results the server computes. A client that sends one is told so explicitly,
#: rather than having it silently dropped or, worse, trusted.
SERVER_COMPUTED = ("score", "criteria", "risk_level", "referral_criteria_met", "next_review_at")

Checked = bool | str | date | tuple[str, ...]


@dataclass(frozen=True)
class ValidatedAnswers:
    """Answers known to fit ``definition``; item answers are in the definition's order."""

    definition: InstrumentDefinition
    answers: Mapping[str, AnswerIn]
    judgement: Mapping[str, Checked]
    complete: bool

    def value(self, item: str) -> str | None:
        answer = self.answers.get(item)
        return answer.value if answer else None


def error(field: str, reason: str, message: str) -> dict[str, Any]:
    return {"field": field, "location": "body", "reason": reason, "message": message}


def validate_answers(
    definition: InstrumentDefinition,
    submitted: AnswerSet | Mapping[str, Any],
    *,
    complete: bool = True,
) -> ValidatedAnswers:
    """Validate answers against the pinned definition, or raise :class:`InvalidAnswers`.

    ``complete=False`` checks a draft: everything that is there must be right,
    but required items may still be missing.
    """
    answer_set = _parse(submitted)
    errors: list[dict[str, Any]] = []
    if (answer_set.instrument_code, answer_set.instrument_version) != definition.key:
        errors.append(
            error(
                "instrument_version",
                "instrument_mismatch",
                f"These answers must pin {definition.code}@{definition.version}.",
            )
        )
    answers = _check_items(definition, answer_set, complete, errors)
    judgement = _check_judgement(definition, answer_set.judgement, complete, errors)
    if errors:
        raise InvalidAnswers(errors)
    ordered = {i.code: answers[i.code] for i in definition.items if i.code in answers}
    return ValidatedAnswers(definition, ordered, judgement, complete)


def _parse(submitted: AnswerSet | Mapping[str, Any]) -> AnswerSet:
    if isinstance(submitted, AnswerSet):
        return submitted
    errors = [
        error(key, "server_computed", "This value is computed by the server and may not be sent.")
        for key in SERVER_COMPUTED
        if key in submitted
    ]
    try:
        parsed = AnswerSet.model_validate(
            {k: v for k, v in submitted.items() if k not in SERVER_COMPUTED}
        )
    except ValidationError as exc:
        errors.extend(
            error(
                ".".join(str(p) for p in e["loc"]) or "body",
                e["type"],
                "Not a valid value here." if e["type"] != "extra_forbidden" else "Unknown field.",
            )
            for e in exc.errors()
        )
        raise InvalidAnswers(errors) from None
    if errors:
        raise InvalidAnswers(errors)
    return parsed


def _check_items(
    definition: InstrumentDefinition,
    answer_set: AnswerSet,
    complete: bool,
    errors: list[dict[str, Any]],
) -> dict[str, AnswerIn]:
    scale = definition.answer_scale.codes
    details = {d.code: d for d in definition.answer_details}
    answers: dict[str, AnswerIn] = {}
    for index, answer in enumerate(answer_set.answers):
        if definition.item(answer.item) is None:
            errors.append(error(f"answers[{index}].item", "unknown_item", "No such item."))
            continue
        where = f"answers.{answer.item}"
        if answer.item in answers:
            errors.append(error(where, "duplicate_item", "The item is answered twice."))
            continue
        if answer.value not in scale:
            allowed = ", ".join(sorted(scale))
            errors.append(error(f"{where}.value", "invalid_value", f"Allowed: {allowed}."))
        for kind in AnswerDetail:
            text = getattr(answer, kind.value)
            if text is None:
                continue
            detail = details.get(kind)
            if detail is None:
                errors.append(
                    error(f"{where}.{kind}", "detail_not_allowed", "Not used by this instrument.")
                )
            elif len(text) > detail.max_length:
                errors.append(error(f"{where}.{kind}", "too_long", f"At most {detail.max_length}."))
        answers[answer.item] = answer
    if complete:
        errors.extend(
            error(f"answers.{item.code}", "missing_required", "This item must be answered.")
            for item in definition.items
            if item.required and item.code not in answers
        )
    return answers


def _check_judgement(
    definition: InstrumentDefinition,
    submitted: Mapping[str, JudgementValue],
    complete: bool,
    errors: list[dict[str, Any]],
) -> dict[str, Checked]:
    checked: dict[str, Checked] = {}
    faulty: set[str] = set()
    for code, raw in submitted.items():
        field = definition.field(code)
        if field is None:
            errors.append(error(f"judgement.{code}", "unknown_field", "No such field."))
            continue
        value, problem = _coerce(field, raw)
        if problem:
            faulty.add(code)
            errors.append(error(f"judgement.{code}", "invalid_value", problem))
        elif value is not None:
            checked[code] = value
    if complete:
        for field in definition.judgement_fields:
            condition = field.required_when
            needed = field.required or (
                condition is not None and checked.get(condition.field) in condition.values
            )
            if needed and field.code not in checked and field.code not in faulty:
                errors.append(
                    error(f"judgement.{field.code}", "missing_required", "This field is required.")
                )
    return checked


def _coerce(field: JudgementField, raw: JudgementValue) -> tuple[Checked | None, str | None]:
    """The value in its field's type, or a message naming the rule it breaks."""
    kind = field.kind
    if kind == FieldKind.BOOLEAN:
        return (raw, None) if isinstance(raw, bool) else (None, "Expected true or false.")
    if kind == FieldKind.MULTI_CHOICE:
        if not isinstance(raw, list):
            return None, "Expected a list of option codes."
        if not set(raw) <= field.option_codes or len(set(raw)) != len(raw):
            return (
                None,
                f"Options must be distinct and among: {', '.join(sorted(field.option_codes))}.",
            )
        return tuple(raw), None
    if not isinstance(raw, str):
        return None, "Expected text."
    if kind == FieldKind.CHOICE:
        if raw not in field.option_codes:
            return None, f"Allowed: {', '.join(sorted(field.option_codes))}."
        return raw, None
    if kind == FieldKind.DATE:
        try:
            if len(raw) != 10:
                raise ValueError
            return date.fromisoformat(raw), None
        except ValueError:
            return None, "Expected a date as YYYY-MM-DD."
    text = raw.strip()
    if not text:
        return None, "Must not be blank."
    if len(text) > field.max_length:
        return None, f"At most {field.max_length} characters."
    return text, None

"""Instrument definitions as data, the answers given to them, and external-tool records.

An instrument is never hard-coded: each version is a JSON file under
``instruments/`` parsed into :class:`InstrumentDefinition` at start-up. The
schema is strict on purpose -- a missing Swedish label, an item in an unknown
section or a threshold larger than the checklist stops the service before any
assessment can be recorded against a broken version.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

#: The case-level risk vocabulary (one enum in the API); also the HAH priority scale.
from app.cases.lifecycle import Scheme
from app.cases.schemas import RiskLevel as RiskLevel
from app.platform.inputs import Input
from app.platform.language import Language

#: Stable codes of items, sections, options and fields (snake_case).
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
#: Instrument codes are kebab-case, as in the file name ``marak-ric@1.json``.
InstrumentCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ScoringRule(StrEnum):
    SUM_YES = "sum_yes"  # score = number of items answered with the counted value
    NONE = "none"  # no score: a person makes the summary judgement


class SectionKind(StrEnum):
    ITEMS = "items"  # answered on the instrument's answer scale
    JUDGEMENT = "judgement"  # fields a person fills in (judgement, summary)


class FieldKind(StrEnum):
    BOOLEAN = "boolean"
    TEXT = "text"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    DATE = "date"


class AnswerDetail(StrEnum):
    """Free-text companions an instrument may allow on each answer."""

    SOURCE = "source"  # who gave the information, when it is not the person assessed
    EVIDENCE = "evidence"  # what the coding rests on
    NOTE = "note"


class _Strict(Input):
    """The input policy (app/platform/inputs.py), frozen: definitions and what clients send."""

    model_config = ConfigDict(frozen=True)


class LocalisedText(_Strict):
    """One text in all three languages the service speaks; none may be left out."""

    fi: Label
    sv: Label
    en: Label

    def in_language(self, language: Language) -> str:
        return str(getattr(self, language.value))


class Option(_Strict):
    code: Code
    label: LocalisedText


def _unique(codes: list[str], what: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"duplicate {what} code {code!r}")
        seen.add(code)


class AnswerScale(_Strict):
    code: Code
    options: list[Option] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _unique_options(self) -> AnswerScale:
        _unique([o.code for o in self.options], "answer option")
        return self

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(o.code for o in self.options)


class Scoring(_Strict):
    rule: ScoringRule
    counted_value: Code | None = None
    threshold: int | None = Field(default=None, ge=1)


class Section(_Strict):
    code: Code
    kind: SectionKind
    title: LocalisedText


class DetailField(_Strict):
    code: AnswerDetail
    label: LocalisedText
    max_length: int = Field(default=2000, ge=1, le=10_000)


class Item(_Strict):
    code: Code
    section: Code
    label: LocalisedText
    help: LocalisedText | None = None
    required: bool = True


class RequiredWhen(_Strict):
    """The field becomes required when another choice field holds one of ``values``."""

    field: Code
    values: list[Code] = Field(min_length=1)


class JudgementField(_Strict):
    code: Code
    section: Code
    kind: FieldKind
    label: LocalisedText
    help: LocalisedText | None = None
    required: bool = False
    required_when: RequiredWhen | None = None
    options: list[Option] = Field(default_factory=list, max_length=50)
    max_length: int = Field(default=10_000, ge=1, le=50_000)

    @model_validator(mode="after")
    def _options_match_kind(self) -> JudgementField:
        has_choices = self.kind in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE)
        if has_choices and len(self.options) < 2:
            raise ValueError(f"field {self.code!r}: a {self.kind} field needs two options or more")
        if not has_choices and self.options:
            raise ValueError(f"field {self.code!r}: only choice fields have options")
        _unique([o.code for o in self.options], f"option of {self.code!r}")
        return self

    @property
    def option_codes(self) -> frozenset[str]:
        return frozenset(o.code for o in self.options)


class InstrumentDefinition(_Strict):
    """One immutable version of an instrument. Assessments pin ``(code, version)``."""

    code: InstrumentCode
    version: int = Field(ge=1, le=10_000)
    scheme: Scheme
    title: LocalisedText
    description: LocalisedText | None = None
    licence: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    answer_scale: AnswerScale
    answer_details: list[DetailField] = Field(default_factory=list, max_length=3)
    scoring: Scoring
    sections: list[Section] = Field(min_length=1, max_length=20)
    items: list[Item] = Field(min_length=1, max_length=200)
    judgement_fields: list[JudgementField] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> InstrumentDefinition:
        _unique([s.code for s in self.sections], "section")
        _unique([d.code for d in self.answer_details], "answer detail")
        _unique(
            [i.code for i in self.items] + [f.code for f in self.judgement_fields], "item/field"
        )
        kinds = {s.code: s.kind for s in self.sections}
        used: set[str] = set()
        for entry, kind in [(i, SectionKind.ITEMS) for i in self.items] + [
            (f, SectionKind.JUDGEMENT) for f in self.judgement_fields
        ]:
            if kinds.get(entry.section) != kind:
                raise ValueError(f"{entry.code!r} must be in a section of kind {kind}")
            used.add(entry.section)
        if empty := sorted(set(kinds) - used):
            raise ValueError(f"empty sections: {empty}")
        self._check_required_when()
        self._check_scoring()
        return self

    def _check_required_when(self) -> None:
        fields = {f.code: f for f in self.judgement_fields}
        for f in self.judgement_fields:
            if f.required_when is None:
                continue
            target = fields.get(f.required_when.field)
            if target is None or target.kind != FieldKind.CHOICE:
                raise ValueError(f"{f.code!r}: required_when must name a choice field")
            if not set(f.required_when.values) <= target.option_codes:
                raise ValueError(f"{f.code!r}: required_when names unknown options")

    def _check_scoring(self) -> None:
        s = self.scoring
        if s.rule == ScoringRule.SUM_YES:
            if s.counted_value not in self.answer_scale.codes:
                raise ValueError("sum_yes scoring needs a counted_value from the answer scale")
            if s.threshold is None or s.threshold > len(self.items):
                raise ValueError("sum_yes scoring needs a threshold between 1 and the item count")
        elif s.counted_value is not None or s.threshold is not None:
            raise ValueError("an instrument without a score has no counted_value or threshold")

    @property
    def key(self) -> tuple[str, int]:
        return (self.code, self.version)

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)

    def items_in(self, section: str) -> list[Item]:
        return [i for i in self.items if i.section == section]

    def field(self, code: str) -> JudgementField | None:
        return next((f for f in self.judgement_fields if f.code == code), None)


# --- answers --------------------------------------------------------------------------

DetailText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
#: A judgement value before it is checked against its field's kind (dates arrive as text).
JudgementValue = StrictBool | list[Code] | Annotated[str, StringConstraints(max_length=50_000)]


class AnswerIn(_Strict):
    item: Code
    value: Code
    source: DetailText | None = None
    evidence: DetailText | None = None
    note: DetailText | None = None


class AnswerSet(_Strict):
    """What a client submits for one instrument. There is deliberately no ``score``."""

    instrument_code: InstrumentCode
    instrument_version: int = Field(ge=1)
    answers: list[AnswerIn] = Field(default_factory=list, max_length=200)
    judgement: dict[Code, JudgementValue] = Field(default_factory=dict, max_length=50)


# --- external licensed tools ------------------------------------------------------------


class ExternalTool(StrEnum):
    """Licensed tools whose content may not be stored: only the fact and the result."""

    HCR_20_V3 = "hcr-20-v3"
    WAVR_21 = "wavr-21"
    VERA_2R = "vera-2r"
    DYRIAS = "dyrias"


class ExternalAssessmentRecord(_Strict):
    """That tool X was used on a date by whom, its summary rating, and where the report is.

    There is no field for item ratings or notes on purpose: the tools' item content
    is licensed, and ``extra="forbid"`` refuses any attempt to smuggle it in.
    """

    tool: ExternalTool
    assessed_on: date
    assessor: ShortText
    summary_rating: RiskLevel
    reference: ShortText


# --- read models ------------------------------------------------------------------------


class InstrumentSummary(BaseModel):
    code: str
    version: int
    scheme: Scheme
    title: str
    scoring_rule: ScoringRule
    content_hash: str


class InstrumentList(BaseModel):
    language: Language
    items: list[InstrumentSummary]


class InstrumentRead(InstrumentDefinition):
    """The full definition in all three languages, with its immutable content hash."""

    content_hash: str

    @classmethod
    def of(cls, definition: InstrumentDefinition, content_hash: str) -> InstrumentRead:
        data: dict[str, Any] = definition.model_dump()
        return cls.model_validate({**data, "content_hash": content_hash})

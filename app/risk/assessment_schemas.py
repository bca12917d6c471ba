"""API shapes of assessments, incidents, external-tool records and the case's risk.

Inputs forbid unknown fields. A client that sends a result the server computes
(``score``, ``criteria``, ``risk_level``...) gets a 422 that says so, rather
than having it silently dropped or, worse, trusted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.cases.lifecycle import Scheme
from app.platform.inputs import Input
from app.platform.language import Language
from app.risk.schemas import (
    AnswerIn,
    AnswerSet,
    Code,
    ExternalAssessmentRecord,
    JudgementValue,
    RiskLevel,
)
from app.risk.scoring import CriterionResult
from app.risk.validation import SERVER_COMPUTED


class AssessmentStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


def _refuse_server_computed(data: Any) -> Any:
    if isinstance(data, dict):
        sent = sorted(key for key in SERVER_COMPUTED if key in data)
        if sent:
            raise ValueError(f"computed by the server and may not be sent: {', '.join(sent)}")
    return data


class AssessmentCreate(AnswerSet):
    """Answers to one pinned instrument version. Without ``submit`` it is saved as a draft."""

    submit: bool = Field(
        default=False, description="Complete it now: every required item must be answered."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_results(cls, data: Any) -> Any:
        return _refuse_server_computed(data)


class AssessmentUpdate(Input):
    """Change a draft. A field that is sent replaces the draft's whole field."""

    answers: list[AnswerIn] | None = Field(default=None, max_length=200)
    judgement: dict[Code, JudgementValue] | None = Field(default=None, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _no_results(cls, data: Any) -> Any:
        return _refuse_server_computed(data)


class InstrumentRef(BaseModel):
    code: str
    version: int
    content_hash: str
    title: str


class AnswerRead(BaseModel):
    """One answer, labelled from the pinned version (not from any later one)."""

    item: str
    section: str
    label: str
    value: str
    value_label: str
    source: str | None = None
    evidence: str | None = None
    note: str | None = None


class RepeatFlag(BaseModel):
    """Only the fact and a date: never which case, team or professionals."""

    flagged: bool = Field(description="True while within 12 months of the last referral.")
    last_referral_on: date | None
    flagged_until: date | None


class AssessmentListItem(BaseModel):
    """A row of the history: no free text, so a list holds no personal account."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    instrument_code: str
    instrument_version: int
    scheme: Scheme
    status: AssessmentStatus
    score: int | None
    risk_level: RiskLevel | None
    referral_criteria_met: bool | None
    next_review_on: date | None
    assessed_on: date | None
    assessor_name: str
    assessor_organisation_id: uuid.UUID
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class AssessmentRead(AssessmentListItem):
    instrument: InstrumentRef
    language: Language
    answers: list[AnswerRead]
    judgement: dict[str, Any]
    threshold: int | None = Field(description="Marak: the pinned version's threshold.")
    criteria: list[CriterionResult] | None = Field(
        description="Marak: all four referral criteria, met or not, with their reasons."
    )
    repeat: RepeatFlag | None = Field(description="Marak: the repeat flag, as of today.")
    summary: dict[str, Any] | None = Field(
        description="Ankkuri: domains per concern level. HAH: the priority's review interval."
    )
    assessor_id: uuid.UUID
    submitted_by: uuid.UUID | None


class RiskSummary(BaseModel):
    """The case's risk as the latest assessments and today's incidents make it."""

    case_id: uuid.UUID
    scheme: Scheme
    risk_level: RiskLevel | None
    next_review_at: datetime | None
    repeat: RepeatFlag | None
    police_reported_incidents: int | None = Field(
        description="Marak: police-reported incidents in the escalation window."
    )
    escalation_incidents_required: int | None
    latest: list[AssessmentListItem] = Field(
        description="The latest submitted assessment of each instrument."
    )


# --- incidents and external tools ---------------------------------------------------------


class IncidentSource(StrEnum):
    """Who told us: the criterion counts police-reported incidents, not only crimes."""

    POLICE = "police"
    VICTIM = "victim"
    SOCIAL_SERVICES = "social_services"
    HEALTH_SERVICES = "health_services"
    VICTIM_SUPPORT = "victim_support"
    SCHOOL = "school"
    OTHER = "other"


ShortNote = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class IncidentCreate(Input):
    occurred_on: date
    source: IncidentSource
    police_reported: bool
    note: ShortNote | None = Field(
        default=None, description="A pointer such as a report number; not an account."
    )


class IncidentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    occurred_on: date
    source: IncidentSource
    police_reported: bool
    note: str | None
    recorded_by: uuid.UUID
    recorded_by_organisation_id: uuid.UUID
    created_at: datetime


class ExternalAssessmentRead(ExternalAssessmentRecord):
    model_config = ConfigDict(from_attributes=True, extra="ignore", frozen=True)

    id: uuid.UUID
    case_id: uuid.UUID
    recorded_by: uuid.UUID
    recorded_by_organisation_id: uuid.UUID
    created_at: datetime

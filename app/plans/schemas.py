"""Plan, measure, meeting and minutes shapes: Create / Update / Read per concept.

Inputs forbid unknown fields, so a status, an ``agreed_at`` or a ``version`` in
a body is a 422, never a silent write.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.cases.lifecycle import Scheme
from app.platform.inputs import Input

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class PlanKind(StrEnum):
    SAFETY_PLAN = "safety_plan"
    RISK_MANAGEMENT_PLAN = "risk_management_plan"
    ACTION_PLAN = "action_plan"


#: Each scheme's plan (docs/DOMAIN.md section 1).
PLAN_KIND = {
    Scheme.MARAK: PlanKind.SAFETY_PLAN,
    Scheme.HAH: PlanKind.RISK_MANAGEMENT_PLAN,
    Scheme.ANKKURI: PlanKind.ACTION_PLAN,
}


class MeasureCategory(StrEnum):
    SHELTER = "shelter"
    PEER_SUPPORT = "peer_support"
    FINANCIAL_HELP = "financial_help"
    RESTRAINING_ORDER = "restraining_order"
    REPORT_OFFENCE = "report_offence"
    SAFE_CONTACT = "safe_contact"
    CHILD_SAFEGUARDING = "child_safeguarding"
    PERPETRATOR_PROGRAMME = "perpetrator_programme"
    HEALTH_CARE = "health_care"
    SUBSTANCE_ABUSE = "substance_abuse"
    SCHOOL = "school"
    MONITORING = "monitoring"
    EXIT_PROGRAMME = "exit_programme"
    OTHER = "other"


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_DONE = "not_done"
    CANCELLED = "cancelled"


#: Measures that still block closing the case (see app/plans/gates.py).
OPEN_STATUSES = frozenset({MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS})


class Contact(Input):
    """Someone the person can call: a label and a number, nothing about the case."""

    label: Short
    phone: Annotated[str, Field(min_length=3, max_length=40)] | None = None


class PlanSafeContact(Input):
    """The Marak safe-contact form (DOMAIN.md section 1): sealed at rest."""

    number_is_safe: bool | None = None
    safe_number: Annotated[str, Field(max_length=40)] | None = None
    safe_times: Annotated[str, Field(max_length=500)] | None = None
    contact_method: Annotated[str, Field(max_length=500)] | None = None
    feared_persons: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, description="For the professionals; never printed in the document."
    )
    safe_to_talk_to: Annotated[list[Short], Field(max_length=20)] = Field(default_factory=list)
    not_safe_to_talk_to: Annotated[list[Short], Field(max_length=20)] = Field(default_factory=list)


class PlanCreate(Input):
    summary: Text | None = None
    contacts: Annotated[list[Contact], Field(max_length=20)] = Field(default_factory=list)
    internal_note: Text | None = None
    safe_contact: PlanSafeContact | None = None


class PlanUpdate(Input):
    """Edits the current draft; fields left out stay as they are."""

    summary: Text | None = None
    contacts: Annotated[list[Contact], Field(max_length=20)] | None = None
    internal_note: Text | None = None
    safe_contact: PlanSafeContact | None = None


class PlanAgree(Input):
    meeting_id: uuid.UUID | None = Field(default=None, description="The meeting that agreed it.")
    next_review_at: AwareDatetime | None = Field(
        default=None, description="Sets the case's next review."
    )


class PlanRevise(Input):
    reason: Text


class PlanReview(Input):
    note: Text
    next_review_at: AwareDatetime | None = None


class MeasureCreate(Input):
    category: MeasureCategory
    description: Text
    responsible_organisation_id: uuid.UUID
    responsible_user_id: uuid.UUID | None = None
    due_date: date | None = None


class MeasureUpdate(Input):
    category: MeasureCategory | None = None
    description: Text | None = None
    responsible_organisation_id: uuid.UUID | None = None
    responsible_user_id: uuid.UUID | None = None
    due_date: date | None = None
    remove: bool = Field(default=False, description="Drop the measure from this draft.")


class MeasureStatusChange(Input):
    status: MeasureStatus
    outcome_note: Text | None = None

    @model_validator(mode="after")
    def _cancel_needs_reason(self) -> MeasureStatusChange:
        if self.status == MeasureStatus.CANCELLED and not self.outcome_note:
            raise ValueError("cancelling a measure needs the reason in outcome_note")
        return self


class MeasureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    case_id: uuid.UUID
    category: MeasureCategory
    description: str
    responsible_organisation_id: uuid.UUID
    responsible_user_id: uuid.UUID | None
    due_date: date | None
    status: MeasureStatus
    outcome_note: str | None
    added_in: int
    removed_in: int | None
    status_changed_at: datetime | None
    status_changed_by: uuid.UUID | None
    version: int


class PlanVersionRead(BaseModel):
    number: int
    status: str = Field(description="draft | agreed")
    summary: str | None
    contacts: list[Contact]
    internal_note: str | None
    revision_reason: str | None = Field(
        default=None, description="Why the agreed plan was reopened as this draft, if it was."
    )
    safe_contact: PlanSafeContact | None = Field(
        description="Shown only to roles that need protected fields."
    )
    safe_contact_withheld: bool
    based_on_number: int | None
    created_at: datetime
    created_by: uuid.UUID
    agreed_at: datetime | None
    agreed_by: uuid.UUID | None
    agreed_in_meeting_id: uuid.UUID | None
    measures_snapshot: list[dict[str, object]] | None


class PlanRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    kind: PlanKind
    version: int
    current: PlanVersionRead
    measures: list[MeasureRead]
    last_reviewed_at: datetime | None
    last_review_note: str | None


class DocumentFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


class MeetingKind(StrEnum):
    MONTHLY = "monthly"
    EMERGENCY = "emergency"


class MeetingCreate(Input):
    team_id: uuid.UUID
    scheduled_at: AwareDatetime
    kind: MeetingKind = MeetingKind.MONTHLY
    chair_id: uuid.UUID | None = Field(default=None, description="Defaults to the caller.")


class AgendaAdd(Input):
    case_id: uuid.UUID


class AttendanceSet(Input):
    organisation_id: uuid.UUID
    present: bool = True


class AgendaItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: uuid.UUID
    position: int
    reason: str


class AttendanceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organisation_id: uuid.UUID
    present: bool


class MeetingRead(BaseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    scheduled_at: datetime
    kind: MeetingKind
    chair_id: uuid.UUID
    closed_at: datetime | None
    version: int
    agenda: list[AgendaItemRead] = Field(description="Only the agenda items of cases you may read.")
    attendance: list[AttendanceRead]


class MinutesKind(StrEnum):
    SHARED = "shared"
    NOT_SHARED = "not_shared"
    DECISION = "decision"
    ACTION = "action"


class InformationKind(StrEnum):
    FACT = "fact"
    OPINION = "opinion"


class MinutesCreate(Input):
    case_id: uuid.UUID
    kind: MinutesKind
    text: Text
    information_kind: InformationKind | None = None
    reason: Text | None = None
    measure: MeasureCreate | None = Field(
        default=None, description="An action: the measure it adds to the case's draft plan."
    )

    @model_validator(mode="after")
    def _shape(self) -> MinutesCreate:
        if self.kind == MinutesKind.SHARED and self.information_kind is None:
            raise ValueError("shared information is marked fact or opinion")
        if self.kind != MinutesKind.SHARED and self.information_kind is not None:
            raise ValueError("only shared information is marked fact or opinion")
        if self.kind == MinutesKind.NOT_SHARED and not self.reason:
            raise ValueError("say why the information was not shared, in reason")
        if (self.kind == MinutesKind.ACTION) != (self.measure is not None):
            raise ValueError("an action, and only an action, carries a measure")
        return self


class MinutesRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    meeting_id: uuid.UUID
    case_id: uuid.UUID
    kind: MinutesKind
    organisation_id: uuid.UUID
    information_kind: InformationKind | None
    text: str
    reason: str | None
    measure_id: uuid.UUID | None
    author_id: uuid.UUID
    created_at: datetime

"""Case API shapes: a ladder of Create / Update / Read per concept.

Inputs forbid unknown fields, so ``status``, ``risk_level``,
``owner_organisation_id``, ``version`` or ``created_by`` in a body is a 422,
never a silent write.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.auth.principal import Role
from app.cases.lifecycle import CaseStatus, ClosureOutcome, ConsentStatement, Scheme
from app.platform.inputs import Input

__all__ = ["CaseStatus", "ClosureOutcome", "Scheme"]


class RiskLevel(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class CaseRole(StrEnum):
    LEAD = "lead"
    MEMBER = "member"
    SUPPORT_PERSON = "support_person"


class AccessKind(StrEnum):
    MEMBER = "member"
    EMERGENCY = "emergency"


class ParticipantRole(StrEnum):
    VICTIM = "victim"
    PERPETRATOR = "perpetrator"
    YOUNG_PERSON = "young_person"
    GUARDIAN = "guardian"
    CHILD = "child"
    PERSON_OF_CONCERN = "person_of_concern"
    OTHER = "other"


class NoteVisibility(StrEnum):
    CASE = "case"  # every reader of the case
    ORGANISATION = "organisation"  # readers from the author's organisation
    PROFESSION = "profession"  # readers holding the author's role


class NoteKind(StrEnum):
    FACT = "fact"
    OPINION = "opinion"


class ReviewFinding(StrEnum):
    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not_justified"


Summary = Annotated[str, Field(min_length=1, max_length=4000)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


# --- cases ------------------------------------------------------------------------


class CaseCreate(Input):
    """Open a case in one of your teams; the scheme is the team's kind."""

    team_id: uuid.UUID
    summary: Summary | None = None
    next_review_at: AwareDatetime | None = None


class CaseUpdate(Input):
    summary: Summary | None = None
    next_review_at: AwareDatetime | None = None


class CaseListItem(BaseModel):
    """What a list shows: no free text, so a list holds no personal data."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    scheme: Scheme
    team_id: uuid.UUID
    owner_organisation_id: uuid.UUID
    status: CaseStatus
    risk_level: RiskLevel | None
    next_review_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    access: AccessKind = Field(description="member, or emergency (a time-boxed grant).")


class CaseRead(CaseListItem):
    summary: str | None
    closure_outcome: ClosureOutcome | None
    closure_reason: str | None
    created_by: uuid.UUID
    my_role: CaseRole | None = Field(
        description="Your role in the case; null under emergency access."
    )
    allowed_transitions: list[CaseStatus]


class CaseSearch(Input):
    """Personal data (names) travel in the body, never in the URL."""

    reference: str | None = Field(default=None, min_length=3, max_length=40)
    participant_name: str | None = Field(default=None, min_length=2, max_length=200)

    @model_validator(mode="after")
    def _one_criterion(self) -> CaseSearch:
        if self.reference is None and self.participant_name is None:
            raise ValueError("give a reference or a participant name")
        return self


# --- transitions -------------------------------------------------------------------


class ConsentIn(Input):
    victim_aware: bool
    consent_given: bool
    no_consent_reason: Reason | None = None

    def to_statement(self) -> ConsentStatement:
        return ConsentStatement(self.victim_aware, self.consent_given, self.no_consent_reason)


class CaseTransitionCreate(Input):
    to: CaseStatus
    reason: Reason | None = None
    outcome: ClosureOutcome | None = None
    consent: ConsentIn | None = Field(
        default=None, description="Marak referral: the victim's awareness and consent."
    )


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    from_status: CaseStatus
    to_status: CaseStatus
    reason: str | None
    outcome: ClosureOutcome | None
    victim_aware: bool | None
    consent_given: bool | None
    no_consent_reason: str | None
    actor_id: uuid.UUID
    occurred_at: datetime
    gates: list[str]


# --- members -----------------------------------------------------------------------


class MemberCreate(Input):
    user_id: uuid.UUID
    case_role: CaseRole = CaseRole.MEMBER
    invite_reason: str | None = Field(
        default=None,
        min_length=10,
        max_length=2000,
        description="Required to admit someone outside the case's team (and non-police in HAH).",
    )


class MemberUpdate(Input):
    case_role: CaseRole


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    organisation_id: uuid.UUID
    case_role: CaseRole
    invited: bool
    invite_reason: str | None
    added_by: uuid.UUID
    created_at: datetime
    version: int


# --- participants --------------------------------------------------------------------


class PersonIn(Input):
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: date | None = None

    @model_validator(mode="after")
    def _not_future(self) -> PersonIn:
        if self.birth_date is not None and self.birth_date > date.today():
            raise ValueError("birth_date is in the future")
        return self


class ParticipantCreate(Input):
    """Either a new person (``person``) or one you can already see (``person_id``)."""

    role: ParticipantRole
    person_id: uuid.UUID | None = None
    person: PersonIn | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ParticipantCreate:
        if (self.person_id is None) == (self.person is None):
            raise ValueError("give exactly one of person_id and person")
        return self


class ParticipantUpdate(Input):
    role: ParticipantRole


class CasePersonRead(BaseModel):
    """The basic person record; protected fields are at GET /api/v1/persons/{id}."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: date | None
    non_disclosure: bool = Field(
        default=False, description="Turvakielto: never disclose where the person is."
    )


class ParticipantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    role: ParticipantRole
    person: CasePersonRead
    added_by: uuid.UUID
    created_at: datetime
    version: int


# --- notes ---------------------------------------------------------------------------


class NoteCreate(Input):
    text: str = Field(min_length=1, max_length=20000)
    kind: NoteKind
    visibility: NoteVisibility = NoteVisibility.CASE
    profession: Role | None = Field(
        default=None,
        description="For 'profession' visibility: which of your roles may see it.",
    )
    corrects_id: uuid.UUID | None = Field(
        default=None, description="The note this one corrects; it keeps that note's visibility."
    )
    correction_reason: str | None = Field(default=None, min_length=5, max_length=2000)

    @model_validator(mode="after")
    def _correction_has_reason(self) -> NoteCreate:
        if (self.corrects_id is None) != (self.correction_reason is None):
            raise ValueError("a correction needs both corrects_id and correction_reason")
        return self


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str
    author_organisation_id: uuid.UUID
    author_role: Role
    visibility: NoteVisibility
    kind: NoteKind
    text: str
    corrects_id: uuid.UUID | None
    correction_reason: str | None
    superseded_by: list[uuid.UUID] = Field(
        default_factory=list, description="Corrections of this note that you can see."
    )
    created_at: datetime
    version: int


# --- emergency access ------------------------------------------------------------------


class EmergencyAccessCreate(Input):
    reason: str = Field(
        min_length=20, max_length=2000, description="Why you need the case now (20+ characters)."
    )


class EmergencyGrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    user_id: uuid.UUID
    organisation_id: uuid.UUID
    role: Role
    reason: str
    created_at: datetime
    expires_at: datetime
    active: bool
    reviewed_at: datetime | None
    reviewed_by: uuid.UUID | None
    review_finding: ReviewFinding | None
    review_note: str | None
    version: int


class EmergencyReview(Input):
    finding: ReviewFinding
    note: str | None = Field(default=None, max_length=2000)


# --- must-not-receive ------------------------------------------------------------------


class ExclusionCreate(Input):
    """A party who must never receive this case's information: a person or an organisation."""

    person_id: uuid.UUID | None = Field(default=None, description="A person in your cases.")
    organisation_id: uuid.UUID | None = None
    reason: Reason

    @model_validator(mode="after")
    def _one_party(self) -> ExclusionCreate:
        if (self.person_id is None) == (self.organisation_id is None):
            raise ValueError("give exactly one of person_id and organisation_id")
        return self


class ExclusionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID | None
    organisation_id: uuid.UUID | None
    reason: str
    added_by: uuid.UUID
    created_at: datetime
    version: int

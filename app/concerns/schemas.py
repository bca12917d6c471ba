"""Concern shapes: the team's screening view, and the submitter's feedback view.

The two are separate schemas. The submitter's view has no description,
subject, decision reason or case: only where the concern stands.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.cases.schemas import ParticipantRole
from app.persons.consent_schemas import LegalBasis
from app.persons.identity import IdentityCode
from app.persons.schemas import check_birth_date
from app.platform.inputs import Input
from app.platform.language import SpokenLanguage
from app.platform.pagination import Page


class ConcernUrgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    IMMEDIATE = "immediate"


class ConcernStatus(StrEnum):
    RECEIVED = "received"
    UNDER_CONSIDERATION = "under_consideration"
    ACTION_TAKEN = "action_taken"
    NO_FURTHER_ACTION = "no_further_action"


class Decision(StrEnum):
    UNDER_CONSIDERATION = "under_consideration"
    CREATE_CASE = "create_case"
    ATTACH = "attach"
    DISMISS = "dismiss"


class ConcernBox(StrEnum):
    INBOX = "inbox"
    SUBMITTED = "submitted"


Name = Annotated[str, Field(min_length=1, max_length=200)]


class ConcernSubject(Input):
    given_name: Name
    family_name: Name
    birth_date: date | None = None
    identity_code: IdentityCode | None = None
    preferred_language: SpokenLanguage | None = None

    @model_validator(mode="after")
    def _dates(self) -> ConcernSubject:
        check_birth_date(self.birth_date, self.identity_code)
        return self


class ConcernCreate(Input):
    """A concern about a person, pushed to a team under a legal basis."""

    team_id: uuid.UUID
    subject: ConcernSubject
    description: str = Field(min_length=10, max_length=10000)
    legal_basis: LegalBasis
    urgency: ConcernUrgency = ConcernUrgency.ROUTINE


class ScreeningCreate(Input):
    decision: Decision
    case_id: uuid.UUID | None = Field(default=None, description="The case to attach to.")
    participant_role: ParticipantRole | None = Field(
        default=None, description="The subject's role in the case (create_case, attach)."
    )
    summary: str | None = Field(default=None, min_length=1, max_length=4000)
    reason: str | None = Field(default=None, min_length=5, max_length=2000)

    @model_validator(mode="after")
    def _shape(self) -> ScreeningCreate:
        if (self.decision == Decision.ATTACH) != (self.case_id is not None):
            raise ValueError("case_id is given exactly when attaching")
        takes_role = self.decision in {Decision.CREATE_CASE, Decision.ATTACH}
        if takes_role != (self.participant_role is not None):
            raise ValueError("participant_role is given exactly when creating or attaching")
        if self.decision == Decision.DISMISS and self.reason is None:
            raise ValueError("dismissing needs a reason")
        if self.summary is not None and self.decision != Decision.CREATE_CASE:
            raise ValueError("summary is for create_case")
        return self


class ConcernFeedback(BaseModel):
    """What the submitter sees: the status, never the content or the case."""

    view: Literal["feedback"] = "feedback"
    id: uuid.UUID
    team_id: uuid.UUID
    urgency: ConcernUrgency
    status: ConcernStatus
    submitted_at: datetime
    status_changed_at: datetime


class ConcernSubjectRead(BaseModel):
    given_name: str
    family_name: str
    birth_date: date | None
    matched_existing: bool = Field(description="The identity code matched a recorded person.")


class ConcernRead(BaseModel):
    """The receiving team's view."""

    model_config = ConfigDict(from_attributes=True)

    view: Literal["screening"] = "screening"
    id: uuid.UUID
    team_id: uuid.UUID
    subject: ConcernSubjectRead
    description: str
    legal_basis: LegalBasis
    urgency: ConcernUrgency
    status: ConcernStatus
    submitted_by: uuid.UUID
    submitter_organisation_id: uuid.UUID
    submitted_at: datetime
    status_changed_at: datetime
    decision: Decision | None
    decision_reason: str | None
    case_id: uuid.UUID | None
    screened_by: uuid.UUID | None
    screened_at: datetime | None
    version: int


AnyConcernRead = Annotated[ConcernRead | ConcernFeedback, Field(discriminator="view")]


class ConcernPage(Page[AnyConcernRead]):
    """A page of concerns: each in full or as feedback, by ``view``."""

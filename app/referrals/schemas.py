from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from app.platform.inputs import Input
from app.platform.language import SpokenLanguage
from app.platform.pagination import Page
from app.referrals.states import (
    NEEDS_REASON,
    REASONS,
    ReasonCode,
    ReferralOutcome,
    ReferralUrgency,
    Side,
    Status,
)

#: A nationwide service matches every area filter.
NATIONAL = "national"


class ServiceType(StrEnum):
    """DOMAIN.md section 3."""

    PERPETRATOR_PROGRAMME = "perpetrator_programme"
    VICTIM_SUPPORT = "victim_support"
    SHELTER = "shelter"
    HELPLINE = "helpline"
    LEGAL_PROTECTION = "legal_protection"
    CHILD_PROTECTION = "child_protection"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_ABUSE = "substance_abuse"
    YOUTH_SERVICES = "youth_services"
    EDUCATION = "education"
    EXIT_PROGRAMME = "exit_programme"


Area = Field(min_length=1, max_length=100)
#: A public switchboard or helpline number: digits, spaces, +, - and parentheses.
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{2,38}$"


def _clean_areas(areas: list[str] | None) -> list[str] | None:
    if areas is None:
        return None
    cleaned: list[str] = []
    for area in areas:
        area = area.strip()
        if not area or len(area) > 100:
            raise ValueError("an area is 1-100 characters")
        if area not in cleaned:
            cleaned.append(area)
    return cleaned


class ServiceCreate(Input):
    provider_organisation_id: uuid.UUID
    service_type: ServiceType
    name: str = Field(min_length=1, max_length=200)
    areas: list[str] = Field(min_length=1, max_length=50)
    languages: list[SpokenLanguage] = Field(min_length=1, max_length=4)
    contact_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    contact_web: HttpUrl | None = None
    accepts_electronic_referrals: bool = False
    response_time_target_days: int | None = Field(default=None, ge=0, le=365)
    active: bool = True

    _areas = field_validator("areas")(_clean_areas)


class ServiceUpdate(Input):
    service_type: ServiceType | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    areas: list[str] | None = Field(default=None, min_length=1, max_length=50)
    languages: list[SpokenLanguage] | None = Field(default=None, min_length=1, max_length=4)
    contact_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    contact_web: HttpUrl | None = None
    accepts_electronic_referrals: bool | None = None
    response_time_target_days: int | None = Field(default=None, ge=0, le=365)
    active: bool | None = None

    _areas = field_validator("areas")(_clean_areas)


class ServiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    provider_organisation_id: uuid.UUID
    service_type: ServiceType
    name: str
    areas: list[str]
    languages: list[SpokenLanguage]
    contact_phone: str | None
    contact_web: str | None
    accepts_electronic_referrals: bool
    response_time_target_days: int | None
    active: bool
    version: int


# --- referrals ---------------------------------------------------------------------


class SharedField(StrEnum):
    """What the referrer may choose to share with the service (nothing else ever goes)."""

    NAME = "name"
    BIRTH_DATE = "birth_date"
    IDENTITY_CODE = "identity_code"  # protected: only if the referrer may see it
    PHONE = "phone"  # protected: only if the referrer may see it
    LANGUAGE = "language"
    REASON = "reason"  # the referral's reason text, as written
    RISK_LEVEL = "risk_level"  # the case's current risk level


def _unique_fields(fields: list[SharedField] | None) -> list[SharedField] | None:
    if fields is not None and len(set(fields)) != len(fields):
        raise ValueError("a field is listed twice")
    return fields


class ReferralCreate(Input):
    subject_person_id: uuid.UUID = Field(description="A participant of the case.")
    service_id: uuid.UUID
    reason: str = Field(min_length=3, max_length=4000, description="For the case's members.")
    urgency: ReferralUrgency = ReferralUrgency.ROUTINE
    shared_fields: list[SharedField] = Field(
        min_length=1,
        max_length=len(SharedField),
        description="The minimum the service needs, chosen explicitly; copied when sent.",
    )
    note_to_provider: str | None = Field(
        default=None, max_length=2000, description="Written for the service; shared as is."
    )
    basis_id: uuid.UUID = Field(
        description="The subject's consent or statutory basis (scope service_referral)."
    )
    measure_id: uuid.UUID | None = Field(
        default=None, description="A measure of the case's plan that follows this referral."
    )

    _fields = field_validator("shared_fields")(_unique_fields)


class ReferralUpdate(Input):
    """Only a draft changes; what was sent is what the service got."""

    reason: str | None = Field(default=None, min_length=3, max_length=4000)
    urgency: ReferralUrgency | None = None
    shared_fields: list[SharedField] | None = Field(
        default=None, min_length=1, max_length=len(SharedField)
    )
    note_to_provider: str | None = Field(default=None, max_length=2000)
    basis_id: uuid.UUID | None = None
    measure_id: uuid.UUID | None = None

    _fields = field_validator("shared_fields")(_unique_fields)


class ReferralTransitionCreate(Input):
    to: Status
    reason_code: ReasonCode | None = None
    reason_text: str | None = Field(default=None, min_length=3, max_length=2000)
    outcome: ReferralOutcome | None = None
    outcome_text: str | None = Field(default=None, min_length=3, max_length=2000)

    @model_validator(mode="after")
    def _shape(self) -> ReferralTransitionCreate:
        if self.to in NEEDS_REASON:
            if self.reason_code is None or self.reason_text is None:
                raise ValueError(f"moving to {self.to.value} needs reason_code and reason_text")
            if self.reason_code not in REASONS[self.to]:
                codes = ", ".join(sorted(REASONS[self.to]))
                raise ValueError(f"reason_code for {self.to.value} is one of: {codes}")
        elif self.reason_code is not None:
            raise ValueError("reason_code belongs to rejected, failed and cancelled only")
        elif self.reason_text is not None and self.to != Status.ON_HOLD:
            raise ValueError("reason_text belongs to rejected, failed, cancelled and on_hold")
        if self.to == Status.COMPLETED:
            if self.outcome is None:
                raise ValueError("completing a referral needs its outcome")
            if self.outcome == ReferralOutcome.OTHER and self.outcome_text is None:
                raise ValueError("outcome other needs outcome_text")
        elif self.outcome is not None or self.outcome_text is not None:
            raise ValueError("outcome belongs to completed only")
        return self


class SharedPhone(BaseModel):
    number: str
    safe_to_call: bool | None = Field(description="null: not known; ask before calling.")


class SharedInfo(BaseModel):
    """The values copied when the referral was sent; null where not shared (see
    ``shared_fields``) or not on record."""

    name: str | None = None
    birth_date: date | None = None
    identity_code: str | None = None
    phones: list[SharedPhone] | None = None
    language: str | None = None
    reason: str | None = None
    risk_level: str | None = None


class ProviderReferralRead(BaseModel):
    """What the receiving service sees: the shared minimum, never the case."""

    view: Literal["provider"] = Field(
        default="provider", description="Which view this is: the receiving service's."
    )
    id: uuid.UUID
    status: Status
    urgency: ReferralUrgency
    service_id: uuid.UUID
    service_name: str
    requester_name: str
    requester_organisation: str
    sent_at: datetime | None
    response_due_at: datetime | None
    overdue: bool
    accepted_at: datetime | None
    ended_at: datetime | None
    shared_fields: list[SharedField]
    sharing_withdrawn: bool = Field(
        description="The subject withdrew the basis: the service no longer sees `shared` "
        "or `note_to_provider` here; the referrer should cancel the referral."
    )
    shared: SharedInfo | None
    note_to_provider: str | None
    reason_code: ReasonCode | None
    reason_text: str | None
    outcome: ReferralOutcome | None
    outcome_text: str | None
    allowed_transitions: list[Status] = Field(description="Moves open to you now.")
    version: int


class ReferralRead(ProviderReferralRead):
    """What the case's members see."""

    view: Literal["referrer"] = Field(  # type: ignore[assignment]
        default="referrer", description="Which view this is: the case's members'."
    )
    case_id: uuid.UUID
    subject_person_id: uuid.UUID
    provider_organisation_id: uuid.UUID
    reason: str
    basis_id: uuid.UUID
    basis_kind: str
    measure_id: uuid.UUID | None
    held_from: Status | None
    expires_at: datetime | None
    expiry_acknowledged_at: datetime | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ReferralEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: Status | None
    to_status: Status
    side: Side
    actor_name: str | None
    actor_organisation_id: uuid.UUID | None
    reason_code: ReasonCode | None
    reason_text: str | None
    outcome: ReferralOutcome | None
    occurred_at: datetime


class ReferralDetail(ReferralRead):
    history: list[ReferralEventRead]


#: A single referral as its caller may see it, told apart by ``view``.
AnyReferralView = Annotated[ReferralDetail | ProviderReferralRead, Field(discriminator="view")]
#: A listed referral as its caller may see it, told apart by ``view``.
AnyReferralRead = Annotated[ReferralRead | ProviderReferralRead, Field(discriminator="view")]


class ReferralPage(Page[AnyReferralRead]):
    """A page of referrals: in full for the case's members, the minimum for the service."""


class ReferralBox(StrEnum):
    INBOX = "inbox"  # addressed to my organisation's services
    OUTBOX = "outbox"  # made in cases I can read

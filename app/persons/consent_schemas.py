"""Consent and other legal bases for sharing a person's information (docs/DOMAIN.md section 4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.platform.inputs import Input


class LegalBasis(StrEnum):
    CONSENT = "consent"
    CHILD_WELFARE_ACT_25 = "child_welfare_act_25"
    THREAT_TO_LIFE_OR_HEALTH_NOTIFICATION = "threat_to_life_or_health_notification"
    POLICE_STATUTORY_DUTY = "police_statutory_duty"


class SharingScope(StrEnum):
    MARAK_SHARING = "marak_sharing"
    ANKKURI_SHARING = "ankkuri_sharing"
    HAH_SHARING = "hah_sharing"
    SERVICE_REFERRAL = "service_referral"


class GivenBy(StrEnum):
    PERSON = "person"
    GUARDIAN = "guardian"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    ORAL = "oral"


class ConsentCreate(Input):
    """Consent names who gave it and how; a statutory basis names only its reference."""

    case_id: uuid.UUID = Field(
        description="The case (yours, with the person) it is given for; it authorises "
        "sharing in this case only."
    )
    basis: LegalBasis
    scope: SharingScope
    service_id: uuid.UUID | None = Field(
        default=None, description="For service_referral: the service directory entry."
    )
    service_name: str | None = Field(
        default=None,
        min_length=2,
        max_length=200,
        description="For service_referral, when the service is not in the directory.",
    )
    given_by: GivenBy | None = None
    guardian_person_id: uuid.UUID | None = Field(
        default=None, description="The guardian who consented (a person in your cases)."
    )
    minor_has_capacity: bool | None = Field(
        default=None,
        description="A minor consenting for themselves: do they understand the matter?",
    )
    method: ConsentMethod | None = None
    reference: str | None = Field(
        default=None, max_length=200, description="E.g. the notification's number."
    )
    obtained_at: AwareDatetime | None = Field(default=None, description="Default: now.")

    @model_validator(mode="after")
    def _shape(self) -> ConsentCreate:
        named = self.service_name is not None or self.service_id is not None
        if (self.scope == SharingScope.SERVICE_REFERRAL) != named:
            raise ValueError(
                "service_id or service_name is given exactly for the service_referral scope"
            )
        if self.service_name is not None and self.service_id is not None:
            raise ValueError("give service_id or service_name, not both")
        if self.basis == LegalBasis.CONSENT:
            if self.given_by is None or self.method is None:
                raise ValueError("consent needs given_by and method")
            if (self.given_by == GivenBy.GUARDIAN) != (self.guardian_person_id is not None):
                raise ValueError("guardian_person_id is given exactly when a guardian consents")
        elif any(
            v is not None
            for v in (self.given_by, self.method, self.guardian_person_id, self.minor_has_capacity)
        ):
            raise ValueError("given_by, method, guardian and capacity belong to consent only")
        return self


class ConsentWithdrawal(Input):
    note: str | None = Field(default=None, max_length=2000)
    withdrawn_at: AwareDatetime | None = Field(default=None, description="Default: now.")


class ConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    case_id: uuid.UUID
    basis: LegalBasis
    scope: SharingScope
    service_id: uuid.UUID | None
    service_name: str | None
    given_by: GivenBy | None
    guardian_person_id: uuid.UUID | None
    minor_has_capacity: bool | None
    method: ConsentMethod | None
    reference: str | None
    obtained_at: datetime
    obtained_by: uuid.UUID
    obtained_by_organisation_id: uuid.UUID
    withdrawn_at: datetime | None
    withdrawn_recorded_by: uuid.UUID | None
    withdrawal_note: str | None
    active: bool
    created_at: datetime
    version: int


class ConsentList(BaseModel):
    items: list[ConsentRead]

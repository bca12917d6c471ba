from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

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


class Language(StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"
    OTHER = "other"


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    languages: list[Language] = Field(min_length=1, max_length=4)
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
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=4)
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
    languages: list[Language]
    contact_phone: str | None
    contact_web: str | None
    accepts_electronic_referrals: bool
    response_time_target_days: int | None
    active: bool
    version: int

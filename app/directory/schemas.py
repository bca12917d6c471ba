from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.auth.principal import Role
from app.platform.inputs import Input


class OrganisationKind(StrEnum):
    POLICE = "police"
    SOCIAL_SERVICES = "social_services"
    HEALTH_SERVICES = "health_services"
    YOUTH_SERVICES = "youth_services"
    EDUCATION = "education"
    NGO = "ngo"
    OTHER = "other"


class TeamKind(StrEnum):
    ANKKURI = "ankkuri"
    MARAK = "marak"
    HAH = "hah"


class TeamRole(StrEnum):
    COORDINATOR = "coordinator"
    MEMBER = "member"


Code = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")


class OrganisationCreate(Input):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: OrganisationKind


class OrganisationUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: OrganisationKind | None = None


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    code: str
    name: str
    kind: OrganisationKind
    version: int


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    subject: str
    name: str
    organisation_id: uuid.UUID
    roles: list[str]
    disabled: bool
    tokens_valid_after: datetime | None
    last_seen_at: datetime | None
    version: int


class UserUpdate(Input):
    disabled: bool | None = None
    tokens_valid_after: AwareDatetime | None = None
    #: Move the user to another organisation (admin only): from then on their
    #: tokens must claim that organisation's code, and tokens claiming the old
    #: one are refused.
    organisation_id: uuid.UUID | None = None


class TeamCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: TeamKind
    organisation_id: uuid.UUID
    area: str = Field(min_length=1, max_length=200)


class TeamUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    area: str | None = Field(default=None, min_length=1, max_length=200)


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    kind: TeamKind
    organisation_id: uuid.UUID
    area: str
    version: int


class TeamMemberAdd(Input):
    user_id: uuid.UUID
    team_role: TeamRole = TeamRole.MEMBER


class TeamMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    team_id: uuid.UUID
    user_id: uuid.UUID
    team_role: TeamRole


class MyTeam(BaseModel):
    id: uuid.UUID
    name: str
    kind: TeamKind
    team_role: TeamRole


class MeRead(BaseModel):
    id: uuid.UUID
    subject: str
    name: str
    organisation: OrganisationRead
    roles: list[Role]
    scopes: list[str]
    teams: list[MyTeam]

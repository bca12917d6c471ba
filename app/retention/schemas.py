"""Legal hold API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.platform.inputs import Input


class HoldTarget(StrEnum):
    CASE = "case"
    PERSON = "person"


#: Short on purpose: the ground is personal-data-adjacent ("litigation X v. Y").
Ground = Field(min_length=3, max_length=300)


class LegalHoldCreate(Input):
    target_type: HoldTarget
    target_id: uuid.UUID
    #: Why the hold is placed (a matter reference, not a narrative). Audited by id only.
    ground: str = Ground


class LegalHoldLift(Input):
    ground: str = Ground


class LegalHoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    target_type: HoldTarget
    target_id: uuid.UUID
    ground: str
    placed_by: uuid.UUID
    created_at: datetime
    active: bool
    lifted_at: datetime | None
    lifted_by: uuid.UUID | None
    lift_ground: str | None
    version: int

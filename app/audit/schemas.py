from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AuditOutcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_organisation: str | None
    actor_roles: list[str]
    action: str
    target_type: str | None
    target_id: str | None
    outcome: AuditOutcome
    reason: str | None
    purpose: str | None
    emergency_grant_id: uuid.UUID | None
    request_id: str | None
    client_ip: str | None


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The period (month, UTC) to verify; absent: the whole chain.
    period: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class BrokenRow(BaseModel):
    id: uuid.UUID | None
    seq: int | None
    reason: str


class VerifyResult(BaseModel):
    ok: bool
    period: str | None
    rows: int
    #: Committed rows the sealer has not chained yet (seconds old): not a failure.
    unsealed: int
    first_broken: BrokenRow | None
    head_seq: int
    head_hash: str

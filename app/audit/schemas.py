from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


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

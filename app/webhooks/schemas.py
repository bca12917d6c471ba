"""Webhook subscriptions and the delivery log, as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.events.outbox import EventType
from app.platform.inputs import Input

URL = Field(min_length=8, max_length=2000, description="https URL the events are POSTed to.")
EVENT_TYPES = Field(
    min_length=1, max_length=len(EventType), description="The event types to receive."
)


class DeliveryState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    DROPPED = "dropped"


class WebhookCreate(Input):
    url: str = URL
    event_types: list[EventType] = EVENT_TYPES
    description: str = Field(default="", max_length=500)


class WebhookUpdate(Input):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EventType)
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="Re-enable an endpoint (after a 410, say) or pause it."
    )


class WebhookRead(BaseModel):
    """A subscription. The secret is never shown again after create and rotate."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    url: str
    event_types: list[EventType]
    description: str
    enabled: bool
    disabled_reason: str | None
    previous_until: datetime | None = Field(
        description="Until when the secret before the last rotation also signs."
    )
    created_at: datetime
    version: int


class WebhookWithSecret(WebhookRead):
    """A subscription with its signing secret: returned once, keep it safe."""

    secret: str = Field(
        description="`whsec_` + base64: verify the `webhook-signature` with it "
        "(Standard Webhooks). Shown only in this response."
    )


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None = Field(description="Error class (timeout, connect_error, http_status...).")


class DeliveryRead(BaseModel):
    """One event for one endpoint. ``id`` is sent as ``webhook-id`` (as ``msg_...``)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    message_id: str
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: EventType
    status: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    dropped_reason: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptRead] = Field(default_factory=list)

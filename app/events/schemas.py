"""What the event feed returns: ids, a type and a time, never personal data."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.events.outbox import EventType


class EventRead(BaseModel):
    """One domain event. Fetch the object it names through its own (audited) route."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Stable id of the event: deduplicate on it.")
    type: EventType
    occurred_at: datetime
    actor_organisation_id: uuid.UUID | None = Field(
        description="The organisation whose user made the change; null for the system's own."
    )
    case_id: uuid.UUID | None = Field(
        description="The case the event belongs to, named only to those who may read that case."
    )
    target_type: str = Field(description="What changed: case, case_member, referral, plan, ...")
    target_id: uuid.UUID


class EventPage(BaseModel):
    """A page of the feed, oldest first.

    ``next_cursor`` is always set: pass it as ``after`` to get what happened since,
    also when this page is empty (poll with it). ``has_more`` says whether to ask
    again at once (true) or after a while (false).
    """

    items: list[EventRead]
    next_cursor: str
    has_more: bool

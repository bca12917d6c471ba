"""``emit``: add a domain event to the caller's transaction (the outbox).

Imported by the domains that make the changes, so it imports nothing of theirs:
like an audit row, the event is added to the request's session and commits or
rolls back with the change it describes.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.events.models import OutboxEvent
from app.platform.db import utcnow


class EventType(StrEnum):
    CASE_CREATED = "case.created"
    CASE_TRANSITIONED = "case.transitioned"
    CASE_MEMBER_ADDED = "case.member_added"
    CASE_MEMBER_REMOVED = "case.member_removed"
    REFERRAL_REQUESTED = "referral.requested"
    REFERRAL_TRANSITIONED = "referral.transitioned"
    PLAN_AGREED = "plan.agreed"
    MEASURE_STATUS_CHANGED = "measure.status_changed"
    MEETING_SCHEDULED = "meeting.scheduled"
    CONCERN_RECEIVED = "concern.received"
    CONCERN_SCREENED = "concern.screened"
    EMERGENCY_ACCESS_GRANTED = "emergency_access.granted"


def emit(
    session: AsyncSession,
    type: EventType,
    actor: Principal | None,
    target_type: str,
    target_id: uuid.UUID,
    case_id: uuid.UUID | None = None,
) -> OutboxEvent:
    """Record that ``target`` changed, in the session of the change. Ids only.

    ``actor`` is None for the system's own moves (the referral expiry sweep).
    """
    event = OutboxEvent(
        id=uuid.uuid4(),
        type=type.value,
        occurred_at=utcnow(),
        actor_organisation_id=actor.organisation_id if actor else None,
        case_id=case_id,
        target_type=target_type,
        target_id=target_id,
    )
    session.add(event)
    return event

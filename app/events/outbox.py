"""``emit``: add a domain event to the caller's transaction (the outbox).

Imported by the domains that make the changes, so it imports nothing of theirs:
like an audit row, the event is added to the request's session and commits or
rolls back with the change it describes.

Commit order. The feed and the webhook fan-out page by ``sequence``, so an event
must never commit below a sequence a reader has already passed. On PostgreSQL a
sequence number is taken at insert, not at commit; so before a transaction
commits, a transaction's events are inserted under a transaction-scoped
advisory lock (``OUTBOX_LOCK_KEY``), held until it commits. Transactions that
emit events therefore take their numbers and commit one after another: every
committed event's lower numbers are committed (or rolled back) too. Only that
last step (the lock, the event inserts, the commit) is serialised; a
transaction that emits nothing never waits. SQLite's single writer gives the
same order without a lock. The events are held in ``session.info`` until then,
so they are not in the session (nor queryable) before the commit.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

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
    # Added to the session as the transaction commits (``_insert_in_commit_order``).
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()  # no I/O: so that a rollback forgets the event (_forget_on_rollback)
    sync.info.setdefault(_PENDING, []).append(event)
    return event


#: pg_advisory_xact_lock key of the outbox's commit order ("casecoord outbox").
OUTBOX_LOCK_KEY = 0x6361_7365_6F75_7462
#: session.info key: the events emitted in the session's current transaction.
_PENDING = "casecoord.outbox_pending"


@event.listens_for(Session, "before_commit")
def _insert_in_commit_order(session: Session) -> None:
    """Insert the transaction's events as it commits, after the commit-order lock
    (PostgreSQL; see the module docstring). Nothing is locked between the lock and
    the commit but these inserts, so no other lock can be waited for meanwhile."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(OUTBOX_LOCK_KEY)))
    session.add_all(pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: Any) -> None:
    """A rolled-back transaction's events are never written."""
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)

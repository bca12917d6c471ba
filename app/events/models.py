"""The outbox: one row per domain event, written in the transaction of its change."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow

#: An integer that autoincrements on every backend (SQLite's rowid alias is INTEGER).
Sequence = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """What changed, never what it says: a type, ids, a time and the actor's organisation.

    No personal data ever: no names, no free text, no reasons, no statuses a
    reader could not see anyway. A consumer fetches the object through the
    authenticated, audited API. ``sequence`` orders the feed and is its cursor.
    Never updated, never deleted (retention comes later).
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_case_id", "case_id", "sequence"),
        Index("ix_outbox_events_target", "target_type", "target_id"),
    )

    sequence: Mapped[int] = mapped_column(Sequence, primary_key=True, autoincrement=True)
    #: Stable id of the event (a receiver dedupes on it).
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_organisation_id: Mapped[uuid.UUID | None]
    case_id: Mapped[uuid.UUID | None]
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[uuid.UUID]

"""The append-only access log (docs/DOMAIN.md section 4, "Access log")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow


class AuditEvent(Base):
    """One access or change, allowed or denied. Never updated, never deleted.

    The actor's name, organisation and roles are copied, so the row keeps its
    meaning after the user is renamed or removed. No personal-data payload is
    ever stored here: only what was touched (type and id), never its content.

    The chain columns (``chain_*``, ``prev_hash``, ``row_hash``) are NULL when
    the row is written and set once by the sealer (app/audit/chain.py); the
    database trigger allows exactly that update (NULL to value, nothing else).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at_id", "occurred_at", "id"),
        Index("ix_audit_events_target", "target_type", "target_id"),
        Index("ix_audit_events_actor_id", "actor_id", "occurred_at"),
        Index("ix_audit_events_action", "action", "occurred_at"),
        Index("ix_audit_events_chain_seq", "chain_seq", unique=True),
        Index(
            "ix_audit_events_unsealed",
            "occurred_at",
            "id",
            postgresql_where=text("row_hash IS NULL"),
            sqlite_where=text("row_hash IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_organisation: Mapped[str | None] = mapped_column(String(64))
    actor_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(200))
    emergency_grant_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    # The hash chain (app/audit/chain.py): position, period, canonical form, links.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    chain_period: Mapped[str | None] = mapped_column(String(7))
    chain_version: Mapped[int | None] = mapped_column(SmallInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class AuditPeriodStub(Base):
    """What is left of a whole period that retention removed (issue 15 section 4).

    The period's row count, the positions it held in the chain, the hash its
    first row linked to and its head hash: enough for ``audit verify`` to step
    over the gap and check that the next period still links to it. Written once
    by app/audit/periods.py, in the transaction that deletes the period's rows.
    """

    __tablename__ = "audit_period_stubs"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    first_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    head_hash: Mapped[str] = mapped_column(String(64))
    removed_at: Mapped[datetime] = mapped_column(default=utcnow)

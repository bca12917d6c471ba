"""Rows written straight into the access log, and reading them back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent


async def seed_events(db: AsyncSession, **common: Any) -> list[AuditEvent]:
    """Five rows one day apart (oldest first), written straight into the log."""
    base = datetime(2001, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        AuditEvent(
            id=uuid.uuid4(),
            occurred_at=base + timedelta(days=i),
            actor_roles=["police"],
            outcome="allowed",
            **{"action": "test.seeded", **common},
        )
        for i in range(5)
    ]
    db.add_all(rows)
    await db.commit()
    return rows


async def rows_by(db: AsyncSession, actor_id: uuid.UUID) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.actor_id == actor_id)
    return list((await db.scalars(stmt)).all())

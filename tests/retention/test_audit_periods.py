"""Whole old access-log periods go, leaving a stub; the chain still verifies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.chain import seal, table
from app.audit.checkpoints import current
from app.audit.models import AuditEvent, AuditPeriodStub
from app.audit.verify import verify
from app.platform.db import utcnow
from tests.audit.chain_helpers import sealed_rows
from tests.retention.helpers import retain


async def _rows_in(db: AsyncSession, month: datetime, n: int) -> None:
    db.add_all(
        AuditEvent(
            id=uuid.uuid4(),
            occurred_at=month + timedelta(minutes=i),
            actor_roles=[],
            action="test.period",
            outcome="allowed",
        )
        for i in range(n)
    )
    await db.commit()


async def test_old_periods_become_stubs_and_the_chain_verifies(
    db: AsyncSession, connection: AsyncConnection
) -> None:
    await sealed_rows(db, 4)  # 2001-03
    await _rows_in(db, datetime(2001, 4, 2, tzinfo=UTC), 3)
    await _rows_in(db, utcnow() - timedelta(days=365), 2)  # within the 12-year class
    await seal(db)
    await db.commit()
    before = await verify(db)
    assert before.ok
    pins = {c.period: {c.rows: c.head_hash} for c in await current(db, "test/origin")}
    heads = {
        p: h
        for p, h in (
            await db.execute(
                select(table.c.chain_period, table.c.row_hash)
                .where(table.c.chain_period.in_(["2001-03", "2001-04"]))
                .order_by(table.c.chain_seq)
            )
        ).all()
    }

    report = await retain(connection, now=utcnow())

    assert report.audit_periods == ["2001-03", "2001-04"]
    left = await db.scalar(
        select(func.count()).where(table.c.chain_period.in_(["2001-03", "2001-04"]))
    )
    assert left == 0
    stubs = (await db.scalars(select(AuditPeriodStub).order_by(AuditPeriodStub.period))).all()
    assert [(s.period, s.rows, s.head_hash) for s in stubs] == [
        ("2001-03", 4, heads["2001-03"]),
        ("2001-04", 3, heads["2001-04"]),
    ]
    await seal(db)  # the run's own audit rows
    await db.commit()
    after = await verify(db)
    assert after.ok, after.first_broken
    assert after.stubs == ["2001-03", "2001-04"]
    signed = await verify(db, expect=pins)  # checkpoints signed before the removal still hold
    assert signed.ok and signed.checkpoints_checked == len(pins)
    sealed = await db.scalar(select(func.count()).where(table.c.chain_seq.is_not(None)))
    assert after.rows == sealed  # every row left verified, the 7 removed stepped over
    removed = (
        await db.scalars(
            select(AuditEvent.purpose).where(AuditEvent.action == "retention.audit_period.removed")
        )
    ).all()
    assert sorted(removed) == sorted(
        [
            f"rows=4 seq=1-4 head={heads['2001-03']}",
            f"rows=3 seq=5-7 head={heads['2001-04']}",
        ]
    )


async def test_a_forged_stub_is_caught(db: AsyncSession, connection: AsyncConnection) -> None:
    await sealed_rows(db, 2)
    await _rows_in(db, utcnow(), 1)
    await seal(db)
    await db.commit()
    await retain(connection, now=utcnow())
    stub = await db.scalar(select(AuditPeriodStub))
    assert stub is not None
    stub.head_hash = "ab" * 32  # whoever rewrites the stub must also rewrite the next link
    await db.commit()
    broken = (await verify(db)).first_broken
    assert broken is not None and "prev_hash" in broken.reason


async def test_the_head_period_and_recent_periods_stay(
    db: AsyncSession, connection: AsyncConnection
) -> None:
    await sealed_rows(db, 2)  # 2001-03 is the only period: it holds the chain head
    report = await retain(connection, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert report.audit_periods == []
    report = await retain(connection, now=datetime(2002, 1, 1, tzinfo=UTC))
    assert report.audit_periods == []

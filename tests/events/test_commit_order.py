"""The outbox's commit order (app/events/outbox.py): on PostgreSQL an event never
commits below a sequence a reader has already seen, so a poller paging by
``sequence`` (the feed, the webhook fan-out) never passes one."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.events.models import OutboxEvent
from app.events.outbox import EventType, _insert_in_commit_order, emit


async def test_a_later_event_waits_for_an_earlier_uncommitted_one(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer commits one transaction at a time")
    maker = async_sessionmaker(engine, expire_on_commit=False)
    targets = [uuid.uuid4(), uuid.uuid4()]
    slow, quick, reader = maker(), maker(), maker()
    try:
        # A slow transaction: its event is inserted (number taken) but not committed.
        early = emit(slow, EventType.CASE_CREATED, None, "case", targets[0])
        await slow.run_sync(_insert_in_commit_order)
        await slow.flush()
        assert early.sequence is not None

        async def commit_another() -> int:
            late = emit(quick, EventType.CASE_CREATED, None, "case", targets[1])
            await quick.commit()
            return int(late.sequence)

        other = asyncio.create_task(commit_another())
        await asyncio.sleep(1.0)
        # The other transaction waits for the slow one: nothing above the slow
        # event's number is visible, so no reader can page past it.
        assert not other.done()
        seen = await reader.scalar(
            select(func.count()).where(OutboxEvent.sequence > early.sequence)
        )
        assert seen == 0
        await reader.rollback()

        await slow.commit()
        late_sequence = await asyncio.wait_for(other, timeout=10)
        assert late_sequence > early.sequence
        visible = await reader.scalars(
            select(OutboxEvent.target_id)
            .where(OutboxEvent.target_id.in_(targets))
            .order_by(OutboxEvent.sequence)
        )
        assert list(visible) == targets
    finally:
        for session in (slow, quick, reader):
            await session.close()
        async with maker.begin() as cleanup:
            await cleanup.execute(delete(OutboxEvent).where(OutboxEvent.target_id.in_(targets)))


async def test_an_event_of_a_rolled_back_transaction_is_never_written(
    engine: AsyncEngine,
) -> None:
    maker = async_sessionmaker(engine, expire_on_commit=False)
    target = uuid.uuid4()
    async with maker() as session:
        emit(session, EventType.CASE_CREATED, None, "case", target)
        await session.rollback()
        await session.commit()  # a later commit in the same session writes nothing
    async with maker() as session:
        found = await session.scalar(select(func.count()).where(OutboxEvent.target_id == target))
    assert found == 0

"""The sealer works in chunks and yields between them (issue 13: a backlog of
thousands of rows must not hold the event loop for the whole batch)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import chain
from app.audit.chain import canonical, link, seal, table
from app.audit.verify import verify
from tests.audit.chain_helpers import sealed_rows


async def test_a_backlog_is_sealed_in_chunks_as_one_chain(
    db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chain, "CHUNK", 4)
    yields = 0
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float, *args: Any) -> Any:
        nonlocal yields
        if delay == 0:
            yields += 1
        return await real_sleep(delay, *args)

    monkeypatch.setattr(chain.asyncio, "sleep", counting_sleep)
    await sealed_rows(db, 2, action="test.before")  # a chain to continue from
    ids = await sealed_rows(db, 11, action="test.backlog")  # 4 + 4 + 3
    assert len(ids) == 11
    assert yields >= 2
    rows = (
        (
            await db.execute(
                select(table).where(table.c.action == "test.backlog").order_by(table.c.chain_seq)
            )
        )
        .mappings()
        .all()
    )
    seqs = [r["chain_seq"] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 11))
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["row_hash"]
        assert (
            link(after["prev_hash"], canonical(after, after["chain_seq"], after["chain_period"]))
            == after["row_hash"]
        )
    result = await verify(db)
    assert result.ok and result.unsealed == 0


async def test_the_limit_still_bounds_one_run(
    db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chain, "CHUNK", 4)
    await sealed_rows(db, 1, action="test.head")
    from app.audit.models import AuditEvent

    db.add_all(
        AuditEvent(actor_roles=[], action="test.limit", outcome="allowed") for _ in range(10)
    )
    await db.commit()
    assert await seal(db, limit=6) == 6
    await db.commit()
    assert (await verify(db)).unsealed == 4
    assert await seal(db) == 4

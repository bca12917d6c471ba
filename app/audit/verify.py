"""Verifying the access log's hash chain (see app/audit/chain.py for the form).

Rows are streamed in chain order in batches (keyset on the unique
``chain_seq`` index), so memory stays flat over any length of log. The first
row that breaks the chain is named, with the reason; unsealed rows (committed
but not yet chained) are counted separately and are not a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import (
    CHAIN_VERSION,
    GENESIS,
    Head,
    canonical,
    chain_cols,
    content_cols,
    link,
    period_of,
    table,
)
from app.audit.models import AuditPeriodStub


@dataclass
class Broken:
    id: str | None
    seq: int | None
    reason: str


@dataclass
class Verification:
    rows: int = 0
    unsealed: int = 0
    head: Head = field(default_factory=Head)
    first_broken: Broken | None = None
    #: period -> rows verified in it
    periods: dict[str, int] = field(default_factory=dict)
    checkpoints_checked: int = 0
    #: periods removed by retention whose stubs were stepped over
    stubs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_broken is None


#: period -> {row count -> head hash}: what signed checkpoints say.
Expectations = Mapping[str, Mapping[int, str]]


async def _start(session: AsyncSession, since: str | None) -> tuple[int, str]:
    """The first position to verify and the hash it must link to."""
    if since is None:
        return 1, GENESIS
    first = await session.scalar(
        select(func.min(table.c.chain_seq)).where(table.c.chain_period >= since)
    )
    if first is None:  # nothing sealed from that period on: start after the head
        last = await session.scalar(select(func.max(table.c.chain_seq)))
        return (last or 0) + 1, GENESIS
    if first == 1:
        return 1, GENESIS
    before = await session.scalar(select(table.c.row_hash).where(table.c.chain_seq == first - 1))
    if before is None:  # the earlier period is gone (retention): trust the row's own link
        before = await session.scalar(select(table.c.prev_hash).where(table.c.chain_seq == first))
    return first, before or GENESIS


def _check(row: Mapping[str, Any], expected_seq: int, prev: Head) -> str | None:
    if row["chain_seq"] != expected_seq:
        return f"chain position {row['chain_seq']} where {expected_seq} was expected (rows missing)"
    if row["chain_version"] != CHAIN_VERSION:
        return f"unknown chain_version {row['chain_version']}"
    if row["prev_hash"] != prev.hash:
        return "prev_hash does not link to the row before it"
    period = row["chain_period"]
    if not isinstance(period, str) or period < prev.period:
        return f"period {period} goes back from {prev.period}"
    if period < period_of(row["occurred_at"]):
        return f"period {period} is before the row's own month"
    try:
        expected = link(prev.hash, canonical(row, expected_seq, period))
    except ValueError:  # a prev_hash that is not 64 hex digits
        return "malformed hash"
    if expected != row["row_hash"]:
        return "row_hash does not match the row (edited, inserted or moved)"
    return None


async def verify(
    session: AsyncSession,
    *,
    since: str | None = None,
    period: str | None = None,
    expect: Expectations | None = None,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Walk the chain in order and stop at the first row that breaks it.

    ``period`` verifies one period only (from the previous period's head);
    ``since`` verifies from that period on. ``expect`` (from signed
    checkpoints) pins a period's head hash at a given row count.
    """
    since = period or since
    result = Verification()
    expect = expect or {}
    seq, anchor = await _start(session, since)
    head = Head(seq - 1, "", anchor)
    counts: dict[str, int] = {}
    last_id: dict[str, str] = {}
    stmt = (
        select(*content_cols, *chain_cols)
        .where(table.c.chain_seq >= bindparam("low"))
        .order_by(table.c.chain_seq)
        .limit(batch)
    )
    stubs = {
        stub.first_seq: stub
        for stub in await session.scalars(
            select(AuditPeriodStub).where(AuditPeriodStub.first_seq >= seq)
        )
    }
    done = False
    while not done and result.first_broken is None:
        rows: Sequence[Any] = (await session.execute(stmt, {"low": seq})).mappings().all()
        done = len(rows) < batch
        for row in rows:
            if period is not None and (row["chain_period"] or "") > period:
                done = True
                break
            while seq in stubs and row["chain_seq"] != seq:
                stub = stubs.pop(seq)
                reason = _step_over(stub, head, counts, expect, result)
                if reason is not None:
                    result.first_broken = Broken(None, seq, reason)
                    break
                head = Head(stub.last_seq, stub.period, stub.head_hash)
                seq = stub.last_seq + 1
            if result.first_broken is not None:
                break
            reason = _check(row, seq, head)
            if reason is not None:
                result.first_broken = Broken(str(row["id"]), row["chain_seq"], reason)
                break
            head = Head(seq, row["chain_period"], row["row_hash"])
            n = counts[head.period] = counts.get(head.period, 0) + 1
            last_id[head.period] = str(row["id"])
            pinned = expect.get(head.period, {}).get(n)
            if pinned is not None:
                result.checkpoints_checked += 1
                if pinned != head.hash:
                    reason = f"disagrees with the signed checkpoint {head.period}/{n}"
                    result.first_broken = Broken(str(row["id"]), seq, reason)
                    break
            seq += 1
            result.rows += 1
        if progress is not None:
            progress(len(rows))
    return await _finish(session, result, head, counts, (since, period), expect, last_id)


def _step_over(
    stub: AuditPeriodStub,
    head: Head,
    counts: dict[str, int],
    expect: Expectations,
    result: Verification,
) -> str | None:
    """A period removed by retention: its stub must link to the head before it."""
    if stub.prev_hash != head.hash:
        return f"the stub of removed period {stub.period} does not link to the row before it"
    if stub.period < head.period or stub.last_seq - stub.first_seq + 1 != stub.rows:
        return f"the stub of removed period {stub.period} is malformed"
    counts[stub.period] = stub.rows
    result.stubs.append(stub.period)
    pinned = expect.get(stub.period, {}).get(stub.rows)
    if pinned is not None:
        result.checkpoints_checked += 1
        if pinned != stub.head_hash:
            return f"the stub of {stub.period} disagrees with its signed checkpoint"
    return None


async def _finish(
    session: AsyncSession,
    result: Verification,
    head: Head,
    counts: dict[str, int],
    bounds: tuple[str | None, str | None],
    expect: Expectations,
    last_id: dict[str, str],
) -> Verification:
    since, only = bounds
    result.head = head
    result.periods = dict(counts)
    unsealed = select(func.count()).select_from(table).where(table.c.row_hash.is_(None))
    result.unsealed = await session.scalar(unsealed) or 0
    if result.first_broken is not None:
        return result
    for name, pins in sorted(expect.items()):
        if (since is not None and name < since) or (only is not None and name != only):
            continue
        for count in sorted(pins):
            if count > counts.get(name, 0):
                result.first_broken = Broken(
                    last_id.get(name),
                    None,
                    f"signed checkpoint {name}/{count} but the chain holds "
                    f"{counts.get(name, 0)} rows of {name} (rows deleted from the end)",
                )
                return result
    if since is None:
        total = await session.scalar(select(func.count()).select_from(table)) or 0
        outside = total - result.rows - result.unsealed
        if outside:
            stray = await session.scalar(
                select(table.c.id)
                .where(table.c.chain_seq.is_(None), table.c.row_hash.is_not(None))
                .limit(1)
            )
            result.first_broken = Broken(
                str(stray) if stray else None, None, f"{outside} row(s) outside the chain"
            )
    return result

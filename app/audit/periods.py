"""Removing a whole old period of the access log, leaving its verifiable stub.

Only retention calls this (app/retention/), and only for a period that is
entirely sealed and followed by a later one. In one transaction it writes the
period's :class:`~app.audit.models.AuditPeriodStub` (row count, chain positions,
the hash its first row linked to, its head hash) and deletes the period's rows
through the database's retention hook (migration 0014):

- PostgreSQL: the append-only trigger lets a DELETE through only for rows of the
  period named by the transaction-local setting ``casecoord.audit_retention_period``;
  it is set for the one DELETE and cleared straight after.
- SQLite: the ``audit_events_no_delete`` trigger is dropped and re-created from its
  own stored text inside the same transaction, so no other writer ever sees the
  table without it (SQLite has a single writer, taken at BEGIN IMMEDIATE).

``audit verify`` then steps over the stub (app/audit/verify.py) and checks that
the next period's first row links to the stub's head hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import table
from app.audit.models import AuditPeriodStub

SQLITE_DELETE_GUARD = "audit_events_no_delete"


@dataclass(frozen=True)
class PeriodSummary:
    period: str
    rows: int
    first_seq: int
    last_seq: int


class PeriodNotRemovable(ValueError):
    pass


async def removable_periods(session: AsyncSession, before: str) -> list[PeriodSummary]:
    """Sealed periods older than ``before`` (YYYY-MM), oldest first, that are not the
    chain head's period and whose rows are one contiguous run of positions."""
    head_period = await session.scalar(select(func.max(table.c.chain_period)))
    if head_period is None:
        return []
    stmt = (
        select(
            table.c.chain_period,
            func.count(),
            func.min(table.c.chain_seq),
            func.max(table.c.chain_seq),
        )
        .where(table.c.chain_seq.is_not(None), table.c.chain_period < before)
        .where(table.c.chain_period < head_period)
        .group_by(table.c.chain_period)
        .order_by(table.c.chain_period)
    )
    found = []
    for period, rows, first, last in (await session.execute(stmt)).all():
        if last - first + 1 == rows:
            found.append(PeriodSummary(period, rows, first, last))
    return found


async def drop_period(session: AsyncSession, summary: PeriodSummary) -> AuditPeriodStub:
    """Replace the period's rows by its stub, in the caller's transaction."""
    ends = await session.execute(
        select(table.c.chain_seq, table.c.prev_hash, table.c.row_hash).where(
            table.c.chain_seq.in_([summary.first_seq, summary.last_seq])
        )
    )
    by_seq = {seq: (prev, head) for seq, prev, head in ends.all()}
    if summary.first_seq not in by_seq or summary.last_seq not in by_seq:
        raise PeriodNotRemovable(f"period {summary.period} changed while it was being removed")
    stub = AuditPeriodStub(
        period=summary.period,
        rows=summary.rows,
        first_seq=summary.first_seq,
        last_seq=summary.last_seq,
        prev_hash=by_seq[summary.first_seq][0],
        head_hash=by_seq[summary.last_seq][1],
    )
    session.add(stub)
    await session.flush()
    deleted = await _delete_rows(session, summary.period)
    if deleted != summary.rows:
        raise PeriodNotRemovable(f"period {summary.period}: {deleted} rows, {summary.rows} counted")
    return stub


async def _delete_rows(session: AsyncSession, period: str) -> int:
    stmt = delete(table).where(table.c.chain_period == period)
    if session.get_bind().dialect.name == "postgresql":
        setting = "SELECT set_config('casecoord.audit_retention_period', :p, true)"
        await session.execute(text(setting), {"p": period})
        try:
            result = await session.execute(stmt, execution_options={"synchronize_session": False})
        finally:
            await session.execute(text(setting), {"p": ""})
        return int(result.rowcount)  # type: ignore[attr-defined]
    guard = await session.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
        {"n": SQLITE_DELETE_GUARD},
    )
    if guard is None:
        raise PeriodNotRemovable(f"the {SQLITE_DELETE_GUARD} trigger is missing")
    await session.execute(text(f"DROP TRIGGER {SQLITE_DELETE_GUARD}"))
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    await session.execute(text(guard))
    return int(result.rowcount)  # type: ignore[attr-defined]

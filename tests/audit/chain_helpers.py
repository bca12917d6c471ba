"""Helpers for the hash-chain tests: seed, seal, and tamper in raw SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import Head, content_cols, seal, table
from app.audit.models import AuditEvent


async def sealed_rows(db: AsyncSession, n: int = 6, action: str = "test.chained") -> list[str]:
    """n rows a minute apart in March 2001, committed and sealed; their ids in chain order."""
    base = datetime(2001, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        AuditEvent(
            id=uuid.uuid4(),
            occurred_at=base + timedelta(minutes=i),
            actor_roles=["police"],
            action=action,
            outcome="allowed",
            target_type="case",
            target_id=str(uuid.uuid4()),
        )
        for i in range(n)
    ]
    db.add_all(rows)
    await db.commit()
    await seal(db)
    await db.commit()
    ids = await db.scalars(
        select(table.c.id).where(table.c.action == action).order_by(table.c.chain_seq)
    )
    return [str(i) for i in ids]


async def seq_of(db: AsyncSession, row_id: str) -> int:
    seq = await db.scalar(select(table.c.chain_seq).where(table.c.id == uuid.UUID(row_id)))
    assert seq is not None
    return int(seq)


def _is_pg(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


async def drop_guard(db: AsyncSession) -> None:
    """What a database superuser would do first (rolled back with the test)."""
    if _is_pg(db):
        await db.execute(text("DROP TRIGGER audit_events_no_update_delete ON audit_events"))
    else:
        await db.execute(text("DROP TRIGGER audit_events_no_update"))
        await db.execute(text("DROP TRIGGER audit_events_no_delete"))


async def sql(db: AsyncSession, statement: str, **params: Any) -> None:
    await db.execute(text(statement), params)


async def shift_tail(db: AsyncSession, after: int, by: int) -> None:
    """Move every row after position ``after`` by ``by`` (two steps: the index is unique)."""
    await sql(
        db, "UPDATE audit_events SET chain_seq = chain_seq + 1000000 WHERE chain_seq > :a", a=after
    )
    await sql(
        db,
        "UPDATE audit_events SET chain_seq = chain_seq - 1000000 + :b WHERE chain_seq > 1000000",
        b=by,
    )


async def rechain_from(db: AsyncSession, seq: int) -> None:
    """Recompute every hash from position ``seq`` on: a rewrite of the whole tail."""
    prev = await db.execute(
        select(table.c.chain_seq, table.c.chain_period, table.c.row_hash).where(
            table.c.chain_seq == seq - 1
        )
    )
    s, period, row_hash = prev.one()
    head = Head(s, period, row_hash)
    rows = (
        await db.execute(
            select(*content_cols).where(table.c.chain_seq >= seq).order_by(table.c.chain_seq)
        )
    ).mappings()
    for row in list(rows):
        head, columns = head.next(row)
        await sql(
            db,
            "UPDATE audit_events SET prev_hash = :p, row_hash = :h WHERE id = :i",
            p=columns["prev_hash"],
            h=columns["row_hash"],
            i=_id_param(db, row["id"]),
        )


def _id_param(db: AsyncSession, value: uuid.UUID) -> Any:
    # Raw SQL: PostgreSQL takes the UUID, SQLite stores 32 hex digits.
    return value if _is_pg(db) else value.hex

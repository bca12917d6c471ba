"""Helpers of the data-at-rest tests: raw rows as stored, and a marker to look for."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.registry import Base

MARK = "Violetmarker"


async def raw_rows(db: AsyncSession, table: str, **where: Any) -> list[dict[str, Any]]:
    """Rows as stored (no type processing), every column."""
    t = Base.metadata.tables[table]
    raw = select(*(type_coerce(c, Text).label(c.name) for c in t.columns))
    stmt = raw.where(*(t.c[k] == v for k, v in where.items()))
    return [dict(r._mapping) for r in await db.execute(stmt)]


def assert_no_marker(rows: list[dict[str, Any]]) -> None:
    assert rows
    for row in rows:
        for column, value in row.items():
            assert MARK not in str(value), f"plaintext in {column}"

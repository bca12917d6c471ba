"""Re-seal every protected value under the primary key (``casecoord keys rotate``).

The tables and columns come from the metadata: every column of type
:class:`~app.platform.crypto.EncryptedText` is visited, so a domain that adds a
protected column is rotated without touching this module. Rows are read in
batches by primary key and each batch commits on its own, so a rotation can
be interrupted and run again: a value is either still under an old key (which
stays configured until the rotation has finished) or already under the new one.

Each value is written back with ``WHERE id = :id AND column = :old``, so a
value the application changed meanwhile (it seals with the primary key
already) is left alone. ``updated_at`` is kept and ``version`` is not bumped:
re-encryption changes no content, so no ETag held by a client goes stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.crypto import EncryptedText, FieldContext, KeyRing, Sealed

BATCH = 200
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Progress = Callable[[int], None]


@dataclass
class RotationResult:
    primary_kid: str
    resealed: int = 0
    current: int = 0
    skipped_changed: int = 0
    per_table: dict[str, int] = field(default_factory=dict)


def protected_columns(metadata: MetaData) -> dict[Table, list[Column[Any]]]:
    """Every table with sealed columns, and those columns."""
    found: dict[Table, list[Column[Any]]] = {}
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedText)]
        if columns:
            if "id" not in table.c or not table.c.id.primary_key:
                raise RuntimeError(f"{table.name} has sealed columns but no id primary key")
            found[table] = columns
    return found


async def count_values(session: AsyncSession, metadata: MetaData) -> dict[str, int]:
    """How many sealed values each key id holds (for ``keys status`` and the progress bar)."""
    counts: dict[str, int] = {}
    for table, columns in protected_columns(metadata).items():
        for column in columns:
            stmt = select(column).select_from(table).where(column.is_not(None))
            for (value,) in await session.execute(stmt):
                kid = value.kid if isinstance(value, Sealed) else "?"
                counts[kid] = counts.get(kid, 0) + 1
    return counts


async def total_values(session: AsyncSession, metadata: MetaData) -> int:
    total = 0
    for table, columns in protected_columns(metadata).items():
        for column in columns:
            stmt = select(func.count()).select_from(table).where(column.is_not(None))
            total += int(await session.scalar(stmt) or 0)
    return total


async def rotate(
    sessions: SessionFactory,
    metadata: MetaData,
    keyring: KeyRing,
    progress: Progress | None = None,
) -> RotationResult:
    """Re-seal every value not under ``keyring.primary_kid``. Idempotent."""
    result = RotationResult(keyring.primary_kid)
    for table, columns in protected_columns(metadata).items():
        after: uuid.UUID | None = None
        while True:
            async with sessions() as session:
                stmt = select(table.c.id, *columns).order_by(table.c.id).limit(BATCH)
                if after is not None:
                    stmt = stmt.where(table.c.id > after)
                rows = (await session.execute(stmt)).all()
                if not rows:
                    break
                for row in rows:
                    await _reseal_row(session, table, columns, row, keyring, result, progress)
                await session.commit()
                after = rows[-1][0]
    return result


async def _reseal_row(
    session: AsyncSession,
    table: Table,
    columns: list[Column[Any]],
    row: Any,
    keyring: KeyRing,
    result: RotationResult,
    progress: Progress | None,
) -> None:
    row_id = row[0]
    for index, column in enumerate(columns, start=1):
        sealed = row[index]
        if sealed is None:
            continue
        fresh = keyring.reseal(sealed, FieldContext(table.name, row_id, column.name))
        if fresh is None:
            result.current += 1
        else:
            values: dict[str, Any] = {column.name: fresh}
            if "updated_at" in table.c:
                values["updated_at"] = table.c.updated_at  # re-encryption is not an edit
            done = await session.execute(
                update(table)
                .where(table.c.id == row_id, column == sealed)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 1) == 1:
                result.resealed += 1
                result.per_table[table.name] = result.per_table.get(table.name, 0) + 1
            else:
                result.skipped_changed += 1
        if progress is not None:
            progress(1)

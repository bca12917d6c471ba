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

Case keys (app/casekeys): the data keys in ``case_keys`` are rewrapped under
the primary first (cheap: one small value per case). The values of a
case-sealed table (``CASE_SEALED``) that are still in format v1, straight
under a field key (sealed before case keys existed), are re-sealed under
their case's data key, which is made if the case has none yet; a value of a
shredded case still in v1 is overwritten with a tombstone. Values already
under a case key are left as they are: rewrapping their key was enough.

Free text written in plain text before revision 0021 is sealed under its
case's data key first, and the plaintext emptied in the same UPDATE (a
shredded case's gets a tombstone instead): app/casekeys/freetext.py.
``keys status`` counts what is left as ``plaintext``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Column, ColumnElement, MetaData, Row, Select, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.casekeys.freetext import seal_legacy_text
from app.casekeys.models import CaseKey
from app.casekeys.plaintext import plaintext_left
from app.casekeys.service import CASE_SEALED, case_cipher, case_of_rows
from app.platform.crypto import (
    CASE_KID,
    EncryptedText,
    FieldContext,
    KeyRing,
    Sealed,
    tombstone,
)

BATCH = 200
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Progress = Callable[[int], None]
AnyRow = Row[*tuple[Any, ...]]
#: ``keys status``: values of shredded cases (no key opens them, none is needed).
SHREDDED = "shredded"
#: ``keys status``: free text still in plain text (written before 0021-0027), one
#: per row and column that holds it (app/casekeys/plaintext.py).
PLAINTEXT = "plaintext"


@dataclass
class RotationResult:
    primary_kid: str
    resealed: int = 0
    current: int = 0
    skipped_changed: int = 0
    per_table: dict[str, int] = field(default_factory=dict)
    #: Case data keys rewrapped under the primary field key.
    rewrapped: int = 0
    #: Plaintext values (LEGACY_PLAINTEXT) sealed under their case key and emptied.
    plaintext_sealed: int = 0


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
    """How many sealed values each key id holds (for ``keys status`` and the progress bar).

    A value under a case key counts for the field key that wraps its case key
    (``shredded`` when that key was destroyed).
    """
    wrapping = {
        case_id: kid or SHREDDED
        for case_id, kid in await session.execute(select(CaseKey.case_id, CaseKey.key_version))
    }
    counts: dict[str, int] = {}
    for table, columns in protected_columns(metadata).items():
        for column in columns:
            stmt = select(column).select_from(table).where(column.is_not(None))
            for (value,) in await session.execute(stmt):
                kid = value.kid if isinstance(value, Sealed) else "?"
                if kid == CASE_KID:
                    kid = wrapping.get(value.case_id, SHREDDED)
                counts[kid] = counts.get(kid, 0) + 1
    left = await plaintext_left(session, metadata)
    if left:
        counts[PLAINTEXT] = left
    return counts


async def total_values(session: AsyncSession, metadata: MetaData) -> int:
    total = 0
    for table, columns in protected_columns(metadata).items():
        for column in columns:
            stmt = select(func.count()).select_from(table).where(column.is_not(None))
            total += int(await session.scalar(stmt) or 0)
    return total + await plaintext_left(session, metadata)


async def rotate(
    sessions: SessionFactory,
    metadata: MetaData,
    keyring: KeyRing,
    progress: Progress | None = None,
) -> RotationResult:
    """Re-seal every value not under ``keyring.primary_kid``. Idempotent."""
    result = RotationResult(keyring.primary_kid)
    result.rewrapped = await rewrap_case_keys(sessions, keyring)
    sealed, skipped = await seal_legacy_text(sessions, metadata, keyring, progress)
    result.plaintext_sealed = sum(sealed.values())
    result.skipped_changed += skipped
    for name, count in sealed.items():
        result.per_table[name] = result.per_table.get(name, 0) + count
    for table, columns in protected_columns(metadata).items():
        if table.name in CASE_SEALED:
            await _rotate_case_table(sessions, metadata, table, keyring, result, progress)
            continue
        reseal = partial(
            _reseal_rows,
            table=table,
            columns=columns,
            keyring=keyring,
            result=result,
            progress=progress,
        )
        await _in_batches(sessions, select(table.c.id, *columns), table.c.id, reseal)
    return result


async def _in_batches(
    sessions: SessionFactory,
    stmt: Select[*tuple[Any, ...]],
    key: ColumnElement[Any] | InstrumentedAttribute[Any],
    handle: Callable[[AsyncSession, Sequence[AnyRow]], Awaitable[None]],
) -> None:
    """Hand the rows of ``stmt`` to ``handle`` :data:`BATCH` at a time in ``key`` order
    (the first column selected), each batch in its own session, committed on its own."""
    after: Any = None
    while True:
        async with sessions() as session:
            batch = stmt.order_by(key).limit(BATCH)
            if after is not None:
                batch = batch.where(key > after)
            rows = (await session.execute(batch)).all()
            if not rows:
                return
            await handle(session, rows)
            await session.commit()
            after = rows[-1][0]


async def _reseal_rows(
    session: AsyncSession,
    rows: Sequence[AnyRow],
    *,
    table: Table,
    columns: list[Column[Any]],
    keyring: KeyRing,
    result: RotationResult,
    progress: Progress | None,
) -> None:
    for row in rows:
        row_id = row[0]
        for column, sealed in zip(columns, row[1:], strict=True):
            if sealed is None:
                continue
            fresh = keyring.reseal(sealed, FieldContext(table.name, row_id, column.name))
            if fresh is None:
                result.current += 1
            else:
                await _write_back(session, table, column, row_id, sealed, fresh, result)
            if progress is not None:
                progress(1)


async def rewrap_case_keys(sessions: SessionFactory, keyring: KeyRing) -> int:
    """Rewrap every live case data key not under the primary field key."""
    done = 0

    async def rewrap(session: AsyncSession, rows: Sequence[AnyRow]) -> None:
        nonlocal done
        for case_id, wrapped in rows:
            assert wrapped is not None
            key = keyring.unwrap_data_key(case_id, Sealed(wrapped))
            moved = await session.execute(
                update(CaseKey)
                .where(CaseKey.case_id == case_id, CaseKey.wrapped_key == wrapped)
                .values(
                    wrapped_key=keyring.wrap_data_key(case_id, key).token,
                    key_version=keyring.primary_kid,
                )
                .execution_options(synchronize_session=False)
            )
            done += getattr(moved, "rowcount", 1)

    stale = (
        select(CaseKey.case_id, CaseKey.wrapped_key)
        .where(CaseKey.destroyed_at.is_(None), CaseKey.wrapped_key.is_not(None))
        .where((CaseKey.key_version != keyring.primary_kid) | CaseKey.key_version.is_(None))
    )
    await _in_batches(sessions, stale, CaseKey.case_id, rewrap)
    return done


async def _rotate_case_table(
    sessions: SessionFactory,
    metadata: MetaData,
    table: Table,
    keyring: KeyRing,
    result: RotationResult,
    progress: Progress | None,
) -> None:
    """Move a case-sealed table's v1 values under their case keys."""
    columns = [c for c in table.columns if isinstance(c.type, EncryptedText)]

    async def reseal(session: AsyncSession, rows: Sequence[AnyRow]) -> None:
        for row in rows:
            row_id, case_id = row[0], row[1]
            for column, sealed in zip(columns, row[2:], strict=True):
                if sealed is None:
                    continue
                if sealed.case_id is not None:
                    result.current += 1
                else:
                    cipher = await case_cipher(session, keyring, case_id, create=True)
                    ctx = FieldContext(table.name, row_id, column.name)
                    fresh = (
                        tombstone(case_id)
                        if cipher.shredded
                        else cipher.seal(keyring.open(sealed, ctx), ctx)
                    )
                    await _write_back(session, table, column, row_id, sealed, fresh, result)
                if progress is not None:
                    progress(1)

    await _in_batches(sessions, case_of_rows(metadata, table), table.c.id, reseal)


async def _write_back(
    session: AsyncSession,
    table: Table,
    column: Column[Any],
    row_id: uuid.UUID,
    old: Sealed,
    fresh: Sealed,
    result: RotationResult,
) -> None:
    values: dict[str, Any] = {column.name: fresh}
    if "updated_at" in table.c:
        values["updated_at"] = table.c.updated_at  # re-encryption is not an edit
    done = await session.execute(
        update(table)
        .where(table.c.id == row_id, column == old)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 1) == 1:
        result.resealed += 1
        result.per_table[table.name] = result.per_table.get(table.name, 0) + 1
    else:
        result.skipped_changed += 1

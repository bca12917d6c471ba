"""What is left in plain text from before the free text was sealed (0021-0027),
counted per row and column: ``keys status`` and the ``keys rotate`` progress bar.

A value is one column of one row. A plaintext column (``LEGACY_PLAINTEXT``)
counts once per row where it is not NULL: a note with both its text and its
correction reason still plain is two values. A JSON column whose texts were
split out later (``LEGACY_JSON_TEXT``, ``LEGACY_JSON_DICT_TEXT``) counts once
per row whose sealed twin is still NULL *and* whose plain JSON still holds
free text: an assessment from before 0021 counts for its answers when an
answer has a source, evidence or a note, and for its judgement only when the
judgement holds a text (codes and dates are not free text). ``keys rotate``
still splits such a row (it seals ``{}``), but nothing of it is plain text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.freetext import (
    JSON_DICT_SPLIT,
    LEGACY_JSON_DICT_TEXT,
    LEGACY_JSON_TEXT,
    LEGACY_PLAINTEXT,
    split_free_text,
)


async def _count(session: AsyncSession, table: Table, condition: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(table).where(condition)) or 0)


async def plaintext_left(session: AsyncSession, metadata: MetaData) -> int:
    """Values (one per row and column) still holding free text in plain text."""
    left = 0
    for name, pairs in LEGACY_PLAINTEXT.items():
        table = metadata.tables[name]
        for plain in pairs:
            left += await _count(session, table, table.c[plain].is_not(None))
    for name, (column, enc, key, fields) in LEGACY_JSON_TEXT.items():
        table = metadata.tables[name]
        rows = await session.execute(select(table.c[column]).where(table.c[enc].is_(None)))
        left += sum(1 for (items,) in rows if split_free_text(items, key, fields)[1])
    for name, (column, enc, further) in LEGACY_JSON_DICT_TEXT.items():
        table = metadata.tables[name]
        stmt = select(table.c[column], *(table.c[c] for c in further))
        split = JSON_DICT_SPLIT[name]
        for row in (await session.execute(stmt.where(table.c[enc].is_(None)))).all():
            _kept, texts = await split(session, row[0] or {}, tuple(row[1:]))
            left += 1 if texts else 0
    return left

"""Migration 0021 (case free text sealed), on the demo data, both databases.

The demo is seeded at head: its notes, the assessments' answer texts and the
plan's internal note sealed under case keys. The downgrade writes them back in
plain text (what the older code reads); after the upgrade they are plain text
the application still reads, ``keys rotate`` seals them again and empties the
plaintext, and once a case is shredded the downgrade refuses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from app.casekeys.service import shred_case_key
from app.cases.models import CaseNote
from app.demo.seed import seed_demo
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.ops.migrate import downgrade, upgrade
from app.platform.config import Settings
from app.platform.crypto import KeyRing, load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.conftest import _in_thread
from tests.test_migration_0019 import scratch_url  # noqa: F401  (the fixture)


def _async(fn: Any) -> Any:
    out: list[Any] = []
    _in_thread(lambda: out.append(asyncio.run(fn())))
    return out[0]


def _texts_inline(answers: Any) -> bool:
    items = json.loads(answers) if isinstance(answers, str) else answers
    return any({"source", "evidence", "note"} & set(item) for item in items)


def _query(url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                return list((await session.execute(text(sql))).all())
        finally:
            await db.dispose()

    return list(_async(run))


def seeded_at_head(url: str, tmp_path: Path) -> KeyRing:
    """The schema at head with the demo data; the key ring that sealed it."""
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    return load_keyring(settings)


def test_downgrade_writes_plain_text_back_and_rotate_seals_it_again(
    scratch_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    ring = seeded_at_head(scratch_url, tmp_path)
    notes = _query(scratch_url, "SELECT text, text_enc FROM case_notes")
    assert notes and all(plain is None and enc.startswith("c1.") for plain, enc in notes)

    _in_thread(lambda: downgrade(scratch_url, "0020", keyring=ring))
    plain = _query(scratch_url, "SELECT text FROM case_notes")
    assert len(plain) == len(notes) and all(t for (t,) in plain)
    answers = _query(scratch_url, "SELECT answers FROM assessments")
    assert any(_texts_inline(a) for (a,) in answers)  # back inline

    _in_thread(lambda: upgrade(scratch_url))

    result, before, after = rotate_then_shred(scratch_url, ring, _first_case)
    assert before[PLAINTEXT] >= len(notes)
    assert PLAINTEXT not in after
    assert result.plaintext_sealed >= len(notes)
    sealed = _query(scratch_url, "SELECT text, text_enc FROM case_notes")
    assert all(p is None and e.startswith("c1.") for p, e in sealed)
    answers = _query(scratch_url, "SELECT answers FROM assessments")
    assert not any(_texts_inline(a) for (a,) in answers)

    with pytest.raises(RuntimeError, match="shredded"):
        _in_thread(lambda: downgrade(scratch_url, "0020", keyring=ring))


def rotate_then_shred(
    url: str, ring: KeyRing, case_of: Callable[[Database], Awaitable[Any]]
) -> tuple[Any, dict[str, int], dict[str, int]]:
    """``keys rotate`` (the counts before and after it), then shred the case ``case_of`` names."""

    async def run() -> tuple[Any, dict[str, int], dict[str, int]]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                before = await count_values(session, Base.metadata)
            result = await rotate(db.sessionmaker, Base.metadata, ring)
            async with db.sessionmaker() as session:
                after = await count_values(session, Base.metadata)
            case_id = await case_of(db)
            async with db.sessionmaker.begin() as session:
                await shred_case_key(session, case_id)
            return result, before, after
        finally:
            await db.dispose()

    return tuple(_async(run))  # type: ignore[return-value]


async def _first_case(db: Database) -> Any:
    async with db.sessionmaker() as session:
        return await session.scalar(select(CaseNote.case_id).limit(1))

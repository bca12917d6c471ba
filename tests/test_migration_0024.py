"""Migration 0024 (the rest of the case's free text sealed), on the demo data, both databases.

The demo is seeded at head: the cases' summaries, the invitations' and
must-not-receive reasons, the incidents' notes and the outside assessment's
reference sealed under case keys. The downgrade writes them back in plain text
(what the older code reads); after the upgrade they are plain text the
application still reads, ``keys rotate`` seals them again and empties the
plaintext, and once a case is shredded the downgrade refuses.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Select, select

from app.casekeys.service import shred_case_key
from app.cases.models import Case
from app.demo.seed import seed_demo
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.ops.migrate import downgrade, upgrade
from app.platform.config import Settings
from app.platform.crypto import KeyRing, load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.conftest import _in_thread
from tests.test_migration_0019 import scratch_url  # noqa: F401  (the fixture)
from tests.test_migration_0021 import _async, _query

#: (table, plaintext column) the demo writes, sealed by 0024.
DEMO = (
    ("cases", "summary"),
    ("case_members", "invite_reason"),
    ("case_exclusions", "reason"),
    ("case_incidents", "note"),
    ("external_assessments", "reference"),
)


def _pairs(url: str, table: str, column: str) -> list[Any]:
    return _query(url, f"SELECT {column}, {column}_enc FROM {table}")  # noqa: S608 (constants)


def rotate_then_shred(
    url: str, ring: KeyRing, case_of: Select[Any]
) -> tuple[Any, dict[str, int], dict[str, int]]:
    """``keys status``, ``keys rotate``, ``keys status`` again, then shred the first
    case ``case_of`` selects: (the rotation's result, the counts before, after)."""

    async def run() -> tuple[Any, dict[str, int], dict[str, int]]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                counted = await count_values(session, Base.metadata)
            result = await rotate(db.sessionmaker, Base.metadata, ring)
            async with db.sessionmaker() as session:
                after = await count_values(session, Base.metadata)
                case_id = await session.scalar(case_of.limit(1))
            async with db.sessionmaker.begin() as session:
                await shred_case_key(session, case_id)
            return result, counted, after
        finally:
            await db.dispose()

    return _async(run)


def test_downgrade_writes_plain_text_back_and_rotate_seals_it_again(
    scratch_url: str,  # noqa: F811
    tmp_path: Any,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=scratch_url)
    _in_thread(lambda: upgrade(scratch_url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    ring = load_keyring(settings)
    before = {}
    for table, column in DEMO:
        rows = [r for r in _pairs(scratch_url, table, column) if r[1] is not None]
        assert rows, (table, column)
        assert all(plain is None and enc.startswith("c1.") for plain, enc in rows)
        before[(table, column)] = len(rows)

    _in_thread(lambda: downgrade(scratch_url, "0023", keyring=ring))
    for table, column in DEMO:
        plain = _query(scratch_url, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
        assert len(plain) == before[(table, column)], (table, column)
    summaries = {s for (s,) in _query(scratch_url, "SELECT summary FROM cases")}
    assert any(s and len(s) > 10 for s in summaries)  # readable prose again

    _in_thread(lambda: upgrade(scratch_url))

    result, counted, after = rotate_then_shred(scratch_url, ring, select(Case.id))
    assert counted[PLAINTEXT] >= sum(before.values())
    assert PLAINTEXT not in after
    for table, column in DEMO:
        assert result.per_table.get(table, 0) >= 1, table
        rows = [r for r in _pairs(scratch_url, table, column) if tuple(r) != (None, None)]
        assert rows and all(p is None and e.startswith("c1.") for p, e in rows), (table, column)

    with pytest.raises(RuntimeError, match="shredded"):
        _in_thread(lambda: downgrade(scratch_url, "0023", keyring=ring))

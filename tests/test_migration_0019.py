"""Migration 0019 (case keys), on the demo data, both databases.

The demo is seeded at head (its case values under case keys, format c1). The
downgrade moves them back under the field key (v1, readable by the older
code); after the upgrade they still read, ``keys rotate`` moves them under
case keys again, and once a case is shredded the downgrade refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.casekeys.service import CASE_SEALED, case_of_rows, open_stored, shred_case_key
from app.demo.seed import seed_demo
from app.ops.keyrotation import protected_columns, rotate
from app.ops.migrate import downgrade, upgrade
from app.platform.config import Settings
from app.platform.crypto import FieldContext, KeyRing, Sealed, load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.conftest import _in_thread, scratch_database


@pytest.fixture
def scratch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "m0019", migrate=False) as url:
        yield url


#: The columns 0019 moved under case keys. Later ones (0021: notes, minutes...)
#: go back to plain text on a downgrade past 0021, so they are not counted here.
OF_0019 = {
    "person_case_facts.address_enc",
    "person_case_facts.phones_enc",
    "person_case_facts.safe_contact_enc",
    "person_case_fact_versions.snapshot_enc",
    "plan_versions.safe_contact_enc",
    "referrals.shared_enc",
}


def _async(fn: Any) -> Any:
    out: list[Any] = []
    _in_thread(lambda: out.append(asyncio.run(fn())))
    return out[0]


async def _case_values(url: str, ring: KeyRing) -> list[tuple[Any, Sealed]]:
    """(case id, value) of every case-sealed value; each one is opened on the way."""
    db = Database.from_url(url)
    found = []
    try:
        async with db.sessionmaker() as session:
            for table, columns in protected_columns(Base.metadata).items():
                if table.name not in CASE_SEALED:
                    continue
                for row in (await session.execute(case_of_rows(Base.metadata, table))).all():
                    for column, value in zip(columns, row[2:], strict=True):
                        if value is not None and f"{table.name}.{column.name}" in OF_0019:
                            ctx = FieldContext(table.name, row[0], column.name)
                            await open_stored(session, ring, value, ctx)
                            found.append((row[1], value))
    finally:
        await db.dispose()
    return found


def test_downgrade_moves_case_values_back_and_refuses_after_a_shred(
    scratch_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=scratch_url)
    _in_thread(lambda: upgrade(scratch_url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    ring = load_keyring(settings)
    seeded = _async(lambda: _case_values(scratch_url, ring))
    assert seeded and all(value.case_id == case for case, value in seeded)

    _in_thread(lambda: downgrade(scratch_url, "0018", keyring=ring))
    _in_thread(lambda: upgrade(scratch_url))
    back = _async(lambda: _case_values(scratch_url, ring))
    assert len(back) == len(seeded)
    assert all(value.case_id is None for _, value in back)  # v1: what the old code wrote

    async def rotate_and_shred() -> Any:
        db = Database.from_url(scratch_url)
        try:
            result = await rotate(db.sessionmaker, Base.metadata, ring)
            async with db.sessionmaker.begin() as session:
                await shred_case_key(session, seeded[0][0])
            return result
        finally:
            await db.dispose()

    result = _async(rotate_and_shred)
    assert result.resealed >= len(back)
    with pytest.raises(RuntimeError, match="shredded"):
        _in_thread(lambda: downgrade(scratch_url, "0018", keyring=ring))

    async def state() -> tuple[str, set[str]]:
        db = Database.from_url(scratch_url)
        try:
            async with db.sessionmaker() as session:
                version = await session.scalar(text("SELECT version_num FROM alembic_version"))
                tokens = (
                    await session.scalars(text("SELECT address_enc FROM person_case_facts"))
                ).all()
                return str(version), {t[:3] for t in tokens if t}
        finally:
            await db.dispose()

    # The refused downgrade left 0019 in place (PostgreSQL rolls the whole downgrade
    # back; SQLite keeps the later steps it undid) and every value under a case key.
    version, prefixes = _async(state)
    assert int(version) >= 19
    assert prefixes == {"c1."}

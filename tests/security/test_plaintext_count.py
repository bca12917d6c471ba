"""``keys status`` counts the free text left in plain text per row and column
(app/casekeys/plaintext.py): each plain column of a row that holds text once, an
unsplit JSON column only when it holds free text. An assessment written before
0021 whose judgement holds only codes is one value (its answers' texts), not
two; a case with both its summary and its closure reason still plain is two."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from typer.testing import CliRunner

from app.cases.models import Case
from app.cli import cli
from app.demo.seed import seed_demo
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.ops.migrate import upgrade
from app.platform.config import Settings, get_settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from app.risk.models import Assessment
from tests.conftest import _in_thread
from tests.plans.factories import MarakCase
from tests.risk import answers
from tests.risk.factories import assess
from tests.world import World


async def _plaintext(db: AsyncSession) -> int:
    return (await count_values(db, Base.metadata)).get(PLAINTEXT, 0)


async def _as_before_0021(db: AsyncSession, assessment_id: uuid.UUID, **judgement: Any) -> None:
    """The row as written before 0021: the answers' texts inline, nothing sealed,
    and the judgement as given (0026 split it later)."""
    items = [
        {"item": "a1", "value": "yes", "evidence": "seen at the door", "source": "police"},
        {"item": "a2", "value": "no"},
    ]
    t = Assessment.__table__
    await db.execute(
        update(t)  # type: ignore[arg-type]
        .where(t.c.id == assessment_id)
        .values(answers=items, answer_text_enc=None, judgement=judgement, judgement_text_enc=None)
    )
    await db.commit()


async def test_an_assessment_from_before_0021_counts_once_per_column_holding_text(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> None:
    made = [await assess(client, world.police, marak.case.id, answers.marak(1)) for _ in range(2)]
    base = await _plaintext(db)
    codes_only = uuid.UUID(made[0]["id"])
    await _as_before_0021(db, codes_only, professional_judgement="refer_high_risk")
    assert await _plaintext(db) == base + 1  # its answers; its judgement holds no text
    with_text = uuid.UUID(made[1]["id"])
    await _as_before_0021(
        db, with_text, professional_judgement="refer_high_risk", judgement_reasons="a threat"
    )
    assert await _plaintext(db) == base + 3  # and the other: its answers and its judgement


async def test_each_plain_column_of_a_row_counts(
    db: AsyncSession, connection: AsyncConnection, marak: MarakCase, settings: Settings
) -> None:
    base = await _plaintext(db)
    t = Case.__table__
    await db.execute(
        update(t)  # type: ignore[arg-type]
        .where(t.c.id == marak.case.id)
        .values(
            summary="old summary", summary_enc=None, closure_reason="old", closure_reason_enc=None
        )
    )
    await db.commit()
    assert await _plaintext(db) == base + 2  # one row, two values
    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, load_keyring(settings))
    assert result.plaintext_sealed >= 2 and result.per_table.get("cases", 0) >= 2
    assert PLAINTEXT not in await count_values(db, Base.metadata)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_keys_status_says_what_it_counts_as_plaintext(fresh_settings: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(Settings(data_dir=data_dir, database_url=url))))
    env = {"CASECOORD_DATA_DIR": str(data_dir), "CASECOORD_DATABASE_URL": url}
    runner = CliRunner()
    status = runner.invoke(cli, ["keys", "status"], env=env)
    assert status.exit_code == 0 and "plaintext" not in status.output, status.output
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        conn.execute(
            "UPDATE cases SET summary = 'old', summary_enc = NULL, closure_reason = 'old', "
            "closure_reason_enc = NULL WHERE id = (SELECT min(id) FROM cases)"
        )
    status = runner.invoke(cli, ["keys", "status"], env=env)
    assert status.exit_code == 0, status.output
    words = " ".join(status.output.replace("│", " ").split())
    assert "plaintext 2 -" in words, status.output  # one case, two values
    assert "plaintext: values (one per row and column)" in words, status.output

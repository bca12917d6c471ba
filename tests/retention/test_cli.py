"""``casecoord retention run [--dry-run]`` on a demo database: progress, listing, purge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from app.audit.verify import verify
from app.cases.models import Case
from app.cli import cli
from app.demo.seed import seed_demo
from app.ops.migrate import upgrade
from app.persons.models import Person
from app.platform.config import Settings, get_settings
from app.platform.db import Base, Database
from tests.conftest import _in_thread


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _query(url: str, work: Any) -> Any:
    found: list[Any] = []

    async def go() -> None:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker.begin() as session:
                found.append(await work(session))
        finally:
            await db.dispose()

    _in_thread(lambda: asyncio.run(go()))
    return found[0]


def test_dry_run_lists_then_run_purges_with_progress(fresh_settings: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(data_dir=data_dir, database_url=url)
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    closed = datetime(2001, 1, 1, tzinfo=UTC)

    async def close_all(session: Any) -> list[str]:
        await session.execute(update(Case).values(status="closed", closed_at=closed))
        return [str(i) for i in await session.scalars(select(Case.id))]

    case_ids = _query(url, close_all)
    assert len(case_ids) >= 3
    classes = tmp_path / "retention.json"
    classes.write_text(json.dumps({"case": {"*": 3650}, "person.unreferenced": {"*": 0}}))
    env = {
        "CASECOORD_DATA_DIR": str(data_dir),
        "CASECOORD_DATABASE_URL": url,
        "CASECOORD_RETENTION_CLASSES": str(classes),
    }
    runner = CliRunner()

    dry = runner.invoke(cli, ["retention", "run", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "Listing" in dry.output
    assert f"cases would purge: {len(case_ids)}" in dry.output
    for case_id in case_ids:
        assert f"case {case_id}" in dry.output
    assert _query(url, lambda s: s.scalar(select(func.count()).select_from(Case))) == len(case_ids)

    real = runner.invoke(cli, ["retention", "run"], env=env)
    assert real.exit_code == 0, real.output
    assert "Purging" in real.output and f"cases purged: {len(case_ids)}" in real.output
    assert _query(url, lambda s: s.scalar(select(func.count()).select_from(Case))) == 0
    assert _query(url, lambda s: s.scalar(select(func.count()).select_from(Person))) == 0

    async def leftovers(session: Any) -> dict[str, int]:
        found = {}
        for table in Base.metadata.sorted_tables:
            if "case_id" in table.c:
                found[table.name] = await session.scalar(
                    select(func.count()).select_from(table).where(table.c.case_id.is_not(None))
                )
        return {k: v for k, v in found.items() if v}

    assert _query(url, leftovers) == {}
    assert _query(url, lambda s: verify(s)).ok

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"case": {"martians": 1}}))
    get_settings.cache_clear()
    refused = runner.invoke(
        cli, ["retention", "run"], env={**env, "CASECOORD_RETENTION_CLASSES": str(bad)}
    )
    assert refused.exit_code == 2 and "unknown organisation kind" in refused.output

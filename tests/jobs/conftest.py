"""A database of the jobs tests' own (the engine commits; nothing is rolled back).

One fresh, migrated database per xdist worker on the configured backend
(SQLite file, or a new PostgreSQL database beside CASECOORD_TEST_DATABASE_URL);
each test starts with empty job tables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from app.jobs.models import JobLease, JobRun
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.db import Database
from tests.conftest import _in_thread, _pg_admin


@pytest.fixture(scope="session")
def jobs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("CASECOORD_TEST_DATABASE_URL")
    if not configured:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('jobs') / 'jobs.db'}"
        _in_thread(lambda: upgrade(url))
        yield url
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = make_url(configured)
    name = f"{base.database}_jobs_{worker}_{os.getpid()}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    _in_thread(lambda: asyncio.run(_pg_admin(configured, drop, f'CREATE DATABASE "{name}"')))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        _in_thread(lambda: upgrade(url))
        yield url
    finally:
        _in_thread(lambda: asyncio.run(_pg_admin(configured, drop)))


@pytest.fixture
async def jobs_db(jobs_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(jobs_url)
    async with db.sessionmaker.begin() as session:
        await session.execute(delete(JobRun))
        await session.execute(delete(JobLease))
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def jobs_settings(settings: Settings, jobs_url: str, tmp_path: Path) -> Settings:
    """The suite's settings on the jobs database, every built-in job off, short leases."""
    return settings.model_copy(
        update={
            "database_url": jobs_url,
            "data_dir": tmp_path,
            "referral_sweep_seconds": 0,
            "audit_seal_seconds": 0,
            "audit_checkpoint_seconds": 0,
            "jobs_lease_seconds": 1.0,
            "jobs_poll_seconds": 0.1,
        }
    )

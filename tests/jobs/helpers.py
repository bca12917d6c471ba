"""Reading the run history, and starting real ``casecoord worker`` processes."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from app.jobs.models import JobLease, JobRun
from app.platform.db import Database

ROOT = Path(__file__).resolve().parents[2]
CASECOORD = Path(sys.executable).parent / "casecoord"


@dataclass(frozen=True)
class Run:
    job: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    handled: int
    outcome: str
    error_class: str | None


async def history(db: Database, job: str | None = None) -> list[Run]:
    stmt = select(JobRun).order_by(JobRun.id)
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    async with db.sessionmaker() as session:
        rows = (await session.scalars(stmt)).all()
    return [
        Run(r.job, r.owner, r.started_at, r.finished_at, r.handled, r.outcome, r.error_class)
        for r in rows
    ]


async def lease(db: Database, job: str) -> JobLease | None:
    async with db.sessionmaker() as session:
        return await session.get(JobLease, job)


def assert_no_overlap(runs: list[Run]) -> None:
    """Each run started after the one before it had finished."""
    ordered = sorted(runs, key=lambda r: r.started_at)
    for before, after in itertools.pairwise(ordered):
        assert before.finished_at is not None, before
        assert after.started_at >= before.finished_at, (before, after)


def worker_env(url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASECOORD_")}
    env.update(
        CASECOORD_DATABASE_URL=url,
        CASECOORD_DATA_DIR=str(data_dir),
        CASECOORD_REFERRAL_SWEEP_SECONDS="0",
        CASECOORD_AUDIT_SEAL_SECONDS="0",
        CASECOORD_AUDIT_CHECKPOINT_SECONDS="0",
        CASECOORD_JOBS_POLL_SECONDS="0.1",
    )
    env.update({f"CASECOORD_{k.upper()}": v for k, v in settings.items()})
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(  # noqa: S603 - our own console script / test module
            args, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT
        )


def wait_for(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {log.name} within {timeout} s:\n{log.read_text()}")


def read_history(url: str, job: str | None = None) -> list[Run]:
    """The run history, from a test that is not a coroutine (its own loop and engine)."""
    from tests.conftest import _in_thread

    found: list[Run] = []

    async def read() -> None:
        db = Database.from_url(url)
        try:
            found.extend(await history(db, job))
        finally:
            await db.dispose()

    _in_thread(lambda: asyncio.run(read()))
    return found


def read_lease(url: str, job: str) -> JobLease | None:
    from tests.conftest import _in_thread

    found: list[JobLease | None] = []

    async def read() -> None:
        db = Database.from_url(url)
        try:
            found.append(await lease(db, job))
        finally:
            await db.dispose()

    _in_thread(lambda: asyncio.run(read()))
    return found[0]

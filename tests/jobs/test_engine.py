"""The engine in one process, on the configured database (SQLite or PostgreSQL).

The claim is the heart of "once per period across processes": two engines with
their own connections race for the same due job and exactly one wins.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from app.jobs.engine import Engine
from app.jobs.registry import Job, JobContext
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.extensions import Registries
from tests.jobs.helpers import assert_no_overlap, history, lease


def engine(db: Database, settings: Settings, *jobs: Job) -> Engine:
    return Engine(db, settings, Registries(), jobs=list(jobs))


def counting(name: str, every: float, *, singleton: bool = True) -> tuple[Job, list[float]]:
    calls: list[float] = []

    async def run(ctx: JobContext) -> int:
        calls.append(time.monotonic())
        await asyncio.sleep(0.02)
        return 1

    return Job(name, run, lambda s: every, singleton=singleton), calls


async def test_two_engines_racing_for_a_due_job_claim_it_once(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    job, _ = counting("race", 60)
    other_db = Database.from_url(jobs_settings.effective_database_url)
    try:
        first, second = engine(jobs_db, jobs_settings, job), engine(other_db, jobs_settings, job)
        await first._due({"race"})  # the lease row exists
        claims = await asyncio.gather(first.claim("race"), second.claim("race"))
    finally:
        await other_db.dispose()
    assert sum(claim is not None for claim in claims) == 1
    row = await lease(jobs_db, "race")
    assert row is not None and row.lease_owner in {first.owner, second.owner}


async def test_two_running_engines_run_a_singleton_once_per_period(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    job, calls = counting("tick", 0.3)
    other_db = Database.from_url(jobs_settings.effective_database_url)
    engines = [engine(jobs_db, jobs_settings, job), engine(other_db, jobs_settings, job)]
    tasks = [asyncio.create_task(e.run_forever()) for e in engines]
    await asyncio.sleep(2.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await other_db.dispose()
    runs = await history(jobs_db, "tick")
    done = [r for r in runs if r.outcome == "ok"]
    assert len(done) <= len(calls) <= len(runs)  # the last may be cut short by the cancel
    assert {r.outcome for r in runs} <= {"ok", "cancelled"}
    assert 3 <= len(runs) <= 2.5 / 0.3 + 2, len(runs)  # one per period, not one per engine
    assert_no_overlap(done)
    starts = sorted(r.started_at for r in runs)
    assert all((b - a).total_seconds() >= 0.3 for a, b in itertools.pairwise(starts))


async def test_a_failing_job_does_not_stop_the_others(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    async def boom(ctx: JobContext) -> int:
        raise RuntimeError("a message that might quote personal data")

    good, calls = counting("good", 0.2)
    bad = Job("bad", boom, lambda s: 0.2)
    running = engine(jobs_db, jobs_settings, bad, good)
    task = asyncio.create_task(running.run_forever())
    await asyncio.sleep(1.5)
    assert not task.done(), "the engine died"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(calls) >= 3
    failed = [r for r in await history(jobs_db, "bad") if r.outcome != "cancelled"]
    assert len(failed) >= 3 and {r.outcome for r in failed} == {"failed"}
    assert {r.error_class for r in failed} == {"RuntimeError"}
    row = await lease(jobs_db, "bad")
    assert row is not None and row.failures == len(failed)
    assert row.last_error_class == "RuntimeError" and row.lease_owner is None
    assert row.next_due_at is not None  # retried at the next period
    # Every run of the good job succeeded; the cancel may land in its last run.
    good_runs = sorted(await history(jobs_db, "good"), key=lambda r: r.started_at)
    assert {r.outcome for r in good_runs[:-1]} == {"ok"}
    assert good_runs[-1].outcome in {"ok", "cancelled"}


async def test_an_expired_lease_passes_to_another_engine(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    """The first owner claims and never finishes (as if killed); the lease expires."""
    job, calls = counting("orphan", 60)
    dead, alive = engine(jobs_db, jobs_settings, job), engine(jobs_db, jobs_settings, job)
    await dead._due({"orphan"})
    assert await dead.claim("orphan") is not None
    assert [r.status for r in await alive.tick()] == ["held"]
    await asyncio.sleep(jobs_settings.jobs_lease_seconds + 0.1)
    assert [r.status for r in await alive.tick()] == ["ran"]
    assert len(calls) == 1
    runs = await history(jobs_db, "orphan")
    assert [(r.owner, r.outcome) for r in runs] == [
        (dead.owner, "running"),
        (alive.owner, "ok"),
    ]


async def test_a_long_run_keeps_its_lease_alive(jobs_db: Database, jobs_settings: Settings) -> None:
    async def long(ctx: JobContext) -> int:
        await asyncio.sleep(jobs_settings.jobs_lease_seconds * 2.5)
        return 1

    job = Job("long", long, lambda s: 60)
    holder, other = engine(jobs_db, jobs_settings, job), engine(jobs_db, jobs_settings, job)
    running = asyncio.create_task(holder.tick())
    await asyncio.sleep(jobs_settings.jobs_lease_seconds * 1.8)
    assert [r.status for r in await other.tick()] == ["held"]
    assert [r.status for r in await running] == ["ran"]


async def test_cancelling_the_engine_releases_the_lease(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    async def forever(ctx: JobContext) -> int:
        await asyncio.sleep(3600)
        return 0

    running = engine(jobs_db, jobs_settings, Job("forever", forever, lambda s: 60))
    task = asyncio.create_task(running.run_forever())
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    row = await lease(jobs_db, "forever")
    assert row is not None and row.lease_owner is None and row.lease_until is None
    assert [r.outcome for r in await history(jobs_db, "forever")] == ["cancelled"]


async def test_a_cancelled_run_keeps_the_previous_error(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    """A shutdown says nothing about the job's health: the last failure stays on record."""
    attempts: list[int] = []
    hanging = asyncio.Event()

    async def fails_then_hangs(ctx: JobContext) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first run fails")
        hanging.set()
        await asyncio.sleep(3600)
        return 0

    running = engine(jobs_db, jobs_settings, Job("flaky", fails_then_hangs, lambda s: 0.01))
    assert [r.status for r in await running.tick()] == ["failed"]
    await asyncio.sleep(0.05)  # due again
    task = asyncio.create_task(running.tick())
    await asyncio.wait_for(hanging.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    row = await lease(jobs_db, "flaky")
    assert row is not None and row.lease_owner is None
    assert row.last_error_class == "RuntimeError" and row.failures == 1
    assert [r.outcome for r in await history(jobs_db, "flaky")] == ["failed", "cancelled"]


async def test_queue_jobs_run_in_every_engine(jobs_db: Database, jobs_settings: Settings) -> None:
    job, calls = counting("queue", 0.1, singleton=False)
    engines = [engine(jobs_db, jobs_settings, job) for _ in range(2)]
    for each in engines:
        assert [r.status for r in await each.tick()] == ["ran"]
    assert len(calls) == 2
    assert {r.owner for r in await history(jobs_db, "queue")} == {e.owner for e in engines}
    assert await lease(jobs_db, "queue") is None  # no lease: the job claims its own items


async def test_the_history_is_pruned(jobs_db: Database, jobs_settings: Settings) -> None:
    settings = jobs_settings.model_copy(update={"jobs_history_keep": 3})
    job, calls = counting("often", 0.01)
    running = engine(jobs_db, settings, job)
    for _ in range(6):
        await running.tick()
        await asyncio.sleep(0.03)
    assert len(calls) == 6
    assert len(await history(jobs_db, "often")) == 3


async def test_a_job_switched_off_never_runs(jobs_db: Database, jobs_settings: Settings) -> None:
    job, calls = counting("off", 0)
    assert await engine(jobs_db, jobs_settings, job).tick() == []
    assert calls == [] and await lease(jobs_db, "off") is None

"""The job engine: runs the app's registered Jobs (app/jobs/registry.py).

* **Singleton** jobs run once per period across all processes. Each has a row
  in ``job_leases``; a process owns one run when its conditional UPDATE ::

      UPDATE job_leases SET lease_owner = :me, lease_until = :now + :lease, ...
       WHERE name = :n AND (next_due_at IS NULL OR next_due_at <= :now)
         AND (lease_until IS NULL OR lease_until < :now)

  changes the row (rowcount 1). The statement is atomic on both databases:
  PostgreSQL re-checks the WHERE on the row a concurrent claimer committed
  (READ COMMITTED), SQLite has one writer. While the job runs, the owner renews
  its lease every third of ``jobs_lease_seconds``; a process killed with
  kill -9 stops renewing, so another process runs the job once the lease has
  expired. After the run the owner sets ``next_due_at = started + period`` and
  clears the lease (a run cancelled at shutdown leaves the job due at once).
* **Queue** jobs (``singleton=False``) run in every engine on their own period;
  they claim their own items.

Every singleton run, and every queue run that handled something or failed, is
kept in ``job_runs`` (the last ``jobs_history_keep`` per job). A job's exception
is logged (type and place only, app/platform/logs.py) and recorded by class;
the job runs again at its next period and the engine carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update

from app.jobs.ledger import ensure_rows, leases, prune_runs, runs
from app.jobs.registry import Job, JobContext, Jobs
from app.platform.clock import clock

if TYPE_CHECKING:
    from app.platform.config import Settings
    from app.platform.db import Database
    from app.platform.extensions import Registries

log = logging.getLogger("casecoord.jobs")
#: The shortest sleep between ticks (a busy loop guard).
MIN_WAIT = 0.05


def make_owner() -> str:
    """This process's name in leases and runs: host, pid and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunReport:
    """What one tick did with one job (printed by ``casecoord worker --once``)."""

    job: str
    #: ran | failed | not due | held | cancelled
    status: str
    handled: int = 0
    error_class: str | None = None
    next_due_at: datetime | None = None

    def describe(self) -> str:
        text = f"{self.job}: {self.status}"
        if self.status == "ran":
            text += f" ({self.handled} handled)"
        if self.error_class:
            text += f" ({self.error_class})"
        if self.next_due_at is not None:
            text += f", next due {self.next_due_at.isoformat(timespec='seconds')}"
        return text


class Engine:
    """Runs ``jobs`` (by default every Job the app registered) against ``db``."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        registries: Registries,
        *,
        jobs: list[Job] | None = None,
        only: set[str] | None = None,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.context = JobContext(db=db, settings=settings, registries=registries)
        chosen = jobs if jobs is not None else registries.of(Jobs).all()
        self.jobs = [job for job in chosen if only is None or job.name in only]
        self.owner = owner or make_owner()
        self._queue_due: dict[str, float] = {}
        self._known: set[str] = set()
        self._wake_at: datetime | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.jobs_lease_seconds)

    def enabled(self) -> list[tuple[Job, float]]:
        """The jobs switched on by their settings, with their periods in seconds."""
        return [(job, every) for job in self.jobs if (every := float(job.every(self.settings))) > 0]

    # -- the loop ------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Tick until ``stop`` is set or the task is cancelled; never raises otherwise."""
        stop = stop or asyncio.Event()
        names = ", ".join(job.name for job, _ in self.enabled()) or "none"
        log.info("job engine %s running: %s", self.owner, names)
        while not stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: try again next tick
                log.exception("job engine tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._next_wait())
        log.info("job engine %s stopped", self.owner)

    async def tick(self) -> list[RunReport]:
        """Run every singleton job that is due and unleased, then every queue job due here."""
        reports: list[RunReport] = []
        enabled = self.enabled()
        singles = [(job, every) for job, every in enabled if job.singleton]
        if singles:
            due = await self._due({job.name for job, _ in singles})
            for job, every in singles:
                if job.name in due:
                    reports.append(await self.run_singleton(job, every))
                else:
                    reports.append(RunReport(job.name, due.get_status(job.name)))
        for job, every in enabled:
            if job.singleton:
                continue
            if self._queue_due.get(job.name, 0.0) <= time.monotonic():
                self._queue_due[job.name] = time.monotonic() + every
                reports.append(await self.run_queue(job))
        return reports

    def _next_wait(self) -> float:
        enabled = self.enabled()
        if not enabled:
            return self.settings.jobs_poll_seconds
        wait = self.settings.jobs_poll_seconds
        mono = time.monotonic()
        for job, every in enabled:
            if job.singleton:
                wait = min(wait, every)
            else:
                wait = min(wait, self._queue_due.get(job.name, mono) - mono)
        if self._wake_at is not None:
            wait = min(wait, (self._wake_at - clock.now()).total_seconds())
        self._wake_at = None
        return max(wait, MIN_WAIT)

    async def _attempt(self, job: Job) -> tuple[int, str | None]:
        """Run ``job`` once: how many things it handled, and the class of the exception
        it failed with (logged; a cancellation is not caught)."""
        try:
            return int(await job.run(self.context)), None
        except Exception as exc:
            log.exception("job %s failed; it runs again at its next period", job.name)
            return 0, type(exc).__name__

    # -- singleton jobs --------------------------------------------------------

    async def _due(self, names: set[str]) -> _Due:
        now = clock.now()
        async with self.db.sessionmaker.begin() as session:
            if not names <= self._known:
                await ensure_rows(session, names - self._known)
                self._known |= names
            rows = (
                await session.execute(
                    select(
                        leases.c.name,
                        leases.c.next_due_at,
                        leases.c.lease_until,
                    ).where(leases.c.name.in_(names))
                )
            ).all()
        due = _Due()
        wake: datetime | None = None
        for name, next_due_at, lease_until in rows:
            live = lease_until is not None and lease_until >= now
            if live:
                due.held.add(name)
            elif next_due_at is None or next_due_at <= now:
                due.names.add(name)
            moment = max(t for t in (next_due_at, lease_until, now) if t is not None)
            wake = moment if wake is None else min(wake, moment)
        self._wake_at = wake
        return due

    async def claim(self, name: str) -> tuple[datetime, int] | None:
        """Take the lease for one run of ``name``; its start and run id, or None."""
        now = clock.now()
        async with self.db.sessionmaker.begin() as session:
            result: Any = await session.execute(
                update(leases)
                .where(
                    leases.c.name == name,
                    or_(leases.c.next_due_at.is_(None), leases.c.next_due_at <= now),
                    or_(leases.c.lease_until.is_(None), leases.c.lease_until < now),
                )
                .values(
                    lease_owner=self.owner,
                    lease_until=now + self.lease,
                    last_started_at=now,
                    runs=leases.c.runs + 1,
                )
            )
            if result.rowcount != 1:
                return None
            inserted: Any = await session.execute(
                insert(runs).values(
                    job=name, owner=self.owner, started_at=now, handled=0, outcome="running"
                )
            )
            run_id = int(inserted.inserted_primary_key[0])
        return now, run_id

    async def run_singleton(self, job: Job, every: float) -> RunReport:
        # The bookkeeping (claim, finish) completes even when the engine is
        # cancelled meanwhile: a lease is never left behind by a clean shutdown.
        claiming = asyncio.ensure_future(self.claim(job.name))
        try:
            claimed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            claimed = await claiming
            if claimed is not None:
                await _complete(self._finish(job, *claimed, None, 0, "cancelled", None))
            raise
        if claimed is None:
            return RunReport(job.name, "held")
        started, run_id = claimed
        renewer = asyncio.create_task(self._renew(job.name))
        try:
            handled, error = await self._attempt(job)
        except asyncio.CancelledError:
            renewer.cancel()
            await _complete(self._finish(job, started, run_id, None, 0, "cancelled", None))
            raise
        finally:
            renewer.cancel()
        if handled:
            log.info("job %s handled %d", job.name, handled)
        next_due = started + timedelta(seconds=every)
        outcome = "failed" if error else "ok"
        await _complete(self._finish(job, started, run_id, next_due, handled, outcome, error))
        return RunReport(job.name, "failed" if error else "ran", handled, error, next_due)

    async def _renew(self, name: str) -> None:
        """Keep the lease alive while the job runs (a third of the lease at a time)."""
        every = max(self.settings.jobs_lease_seconds / 3, MIN_WAIT)
        while True:
            await asyncio.sleep(every)
            try:
                async with self.db.sessionmaker.begin() as session:
                    result: Any = await session.execute(
                        update(leases)
                        .where(leases.c.name == name, leases.c.lease_owner == self.owner)
                        .values(lease_until=clock.now() + self.lease)
                    )
                if result.rowcount != 1:
                    log.warning("job %s: lease lost to another process", name)
                    return
            except Exception:
                log.exception("job %s: lease renewal failed", name)

    async def _finish(
        self,
        job: Job,
        started: datetime,
        run_id: int,
        next_due: datetime | None,
        handled: int,
        outcome: str,
        error: str | None,
    ) -> None:
        """Record the run and release the lease (if still ours); never raises."""
        now = clock.now()
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "last_finished_at": now,
        }
        if outcome != "cancelled":
            # A run cut short by a shutdown says nothing about the job's health:
            # it leaves the previous run's error (or its absence) in place.
            values["last_error_class"] = error
        if next_due is not None:
            values["next_due_at"] = next_due
        if outcome == "failed":
            values["failures"] = leases.c.failures + 1
        try:
            async with self.db.sessionmaker.begin() as session:
                result: Any = await session.execute(
                    update(leases)
                    .where(leases.c.name == job.name, leases.c.lease_owner == self.owner)
                    .values(**values)
                )
                if result.rowcount != 1:
                    log.warning("job %s: finished after its lease had passed on", job.name)
                await session.execute(
                    update(runs)
                    .where(runs.c.id == run_id)
                    .values(finished_at=now, handled=handled, outcome=outcome, error_class=error)
                )
                await prune_runs(session, job.name, self.settings.jobs_history_keep)
        except Exception:
            log.exception("job %s: could not record its run; the lease will expire", job.name)

    # -- queue jobs ----------------------------------------------------------

    async def run_queue(self, job: Job) -> RunReport:
        started = clock.now()
        handled, error = await self._attempt(job)
        if handled or error:
            try:
                async with self.db.sessionmaker.begin() as session:
                    await session.execute(
                        insert(runs).values(
                            job=job.name,
                            owner=self.owner,
                            started_at=started,
                            finished_at=clock.now(),
                            handled=handled,
                            outcome="failed" if error else "ok",
                            error_class=error,
                        )
                    )
                    await prune_runs(session, job.name, self.settings.jobs_history_keep)
            except Exception:
                log.exception("job %s: could not record its run", job.name)
        return RunReport(job.name, "failed" if error else "ran", handled, error)


class _Due:
    """The singleton jobs a tick found due, and those another process holds."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.held: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def get_status(self, name: str) -> str:
        return "held" if name in self.held else "not due"


async def _complete(work: Coroutine[Any, Any, None]) -> None:
    """Await ``work`` to its end even if the caller is cancelled meanwhile (then re-raise)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise

"""What a domain registers to run in the background (the ``Jobs`` registry).

A domain's ``install(app)`` registers its jobs here, in the application's
registries (app/platform/extensions.py); the job engine (app/jobs/engine.py)
runs them inside the server (embedded, the default) or in ``casecoord worker``
processes. A job never starts its own loop.

Two kinds:

* ``singleton=True``: *periodic* work that must run **once per period across
  all processes** (the referral expiry sweep, the audit sealer, checkpoints,
  retention). The engine takes a lease on the job's row before running it.
* ``singleton=False``: *queue* work that **every** worker runs each tick (webhook
  deliveries). The job itself claims its items (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, with a lease that a killed worker's claim outlives), so that two
  processes never send the same attempt twice.

``run`` returns how many items it handled (0 when idle), for logs and metrics;
it commits its own transactions through ``ctx.db`` and may raise: the engine
logs the failure and tries again at the next period.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.platform.config import Settings
    from app.platform.db import Database
    from app.platform.extensions import Registries


@dataclass(frozen=True)
class JobContext:
    """What a job runs with: the database, the settings and the app's registries."""

    db: Database
    settings: Settings
    registries: Registries


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[JobContext], Awaitable[int]]
    #: Seconds between runs, read from the settings; ``<= 0`` switches the job off.
    every: Callable[[Settings], float]
    singleton: bool = True


class Jobs:
    """The app's background jobs, by unique name."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(self, job: Job) -> None:
        if job.name in self._jobs:
            raise ValueError(f"job {job.name!r} is registered twice")
        self._jobs[job.name] = job

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def get(self, name: str) -> Job:
        return self._jobs[name]

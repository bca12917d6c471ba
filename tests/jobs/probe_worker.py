"""``casecoord worker`` with one more job, ``probe.slow``, that runs for an hour.

The kill -9 test needs a worker that holds a lease long enough to be killed
mid-run; the built-in jobs finish in milliseconds. This runs the same engine
and the same worker entry point (app/jobs/cli.py ``run_worker``) as the
console script, with the probe registered next to the app's own jobs.
"""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI

from app.jobs.cli import run_worker
from app.jobs.registry import Job, JobContext, Jobs
from app.platform.extensions import registries_of


async def slow(ctx: JobContext) -> int:
    await asyncio.sleep(3600)
    return 1


def register(app: FastAPI) -> None:
    every = float(os.environ.get("PROBE_EVERY", "1"))
    registries_of(app).of(Jobs).register(Job("probe.slow", slow, lambda s: every))


if __name__ == "__main__":
    raise SystemExit(run_worker(only={"probe.slow"}, extend=register))

"""The job engine's part of the extension point: run the jobs inside the server.

With ``CASECOORD_JOBS=embedded`` (the default) each server process runs an
engine (app/jobs/engine.py) for its lifetime; singleton jobs still run once
per period across all of them. ``external`` and ``off`` start none here
(``casecoord worker`` runs them, see app/jobs/cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.jobs.engine import Engine
from app.platform.extensions import registries_of
from app.platform.routing import api_router


@asynccontextmanager
async def embedded(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs: its job engine, when the jobs are embedded."""
    settings = app.state.settings
    if settings.jobs != "embedded":
        app.state.job_engine = None
        yield
        return
    engine = Engine(app.state.db, settings, registries_of(app))
    app.state.job_engine = engine
    task = asyncio.create_task(engine.run_forever(), name="casecoord-jobs")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(app: FastAPI) -> None:
    """The embedded engine, started with the app (after every domain registered its jobs)."""
    app.include_router(api_router(lifespan=embedded))

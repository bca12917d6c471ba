"""CASECOORD_JOBS: embedded (the default) runs the jobs in the server; external and off none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database
from tests.jobs.helpers import history


async def _serve_for(
    settings: Settings, seconds: float, until: Callable[[], Awaitable[bool]] | None = None
) -> object:
    """Serve for ``seconds``; with ``until``, serve until it holds (``seconds`` at most),
    so a loaded machine slows the test down instead of failing it."""
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/healthz")).status_code == 200
            deadline = time.monotonic() + seconds
            for _ in range(int(seconds / 0.1) + 1):
                if until is not None and await until():
                    break
                await asyncio.sleep(max(0.0, min(0.1, deadline - time.monotonic())))
            return app.state.job_engine
    finally:
        await app.state.db.dispose()


async def test_the_default_embeds_the_jobs_in_the_server(
    jobs_db: Database, jobs_settings: Settings
) -> None:
    assert Settings.model_fields["jobs"].default == "embedded"
    settings = jobs_settings.model_copy(update={"audit_seal_seconds": 0.2})
    started = time.monotonic()

    async def two_runs() -> bool:
        return len(await history(jobs_db, "audit.seal")) >= 2

    engine = await _serve_for(settings, 30, until=two_runs)
    elapsed = time.monotonic() - started
    runs = await history(jobs_db, "audit.seal")
    assert engine is not None
    assert {r.owner for r in runs} == {engine.owner}  # type: ignore[attr-defined]
    assert 2 <= len(runs) <= elapsed / 0.2 + 2
    assert await history(jobs_db, "referrals.expiry") == []  # switched off (0)


@pytest.mark.parametrize("mode", ["external", "off"])
async def test_external_and_off_run_no_job_in_the_server(
    jobs_db: Database, jobs_settings: Settings, mode: str
) -> None:
    settings = jobs_settings.model_copy(update={"audit_seal_seconds": 0.1, "jobs": mode})
    assert await _serve_for(settings, 1.0) is None
    assert await history(jobs_db) == []

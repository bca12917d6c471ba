"""The audit domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app.audit.chain import seal_forever
from app.audit.router import router
from app.audit.service import record_denial, record_replay
from app.platform.extensions import registries_of
from app.platform.idempotency import ReplayHooks
from app.platform.problems import DenialHooks


@asynccontextmanager
async def sealer(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs: chain committed audit rows every ``audit_seal_seconds``."""
    seconds = app.state.settings.audit_seal_seconds
    task = asyncio.create_task(seal_forever(app.state.db, seconds)) if seconds > 0 else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(app: FastAPI) -> None:
    """The audit trail's routes, and the record of every refused request and of
    every replayed create."""
    registries = registries_of(app)
    registries.of(DenialHooks).register(record_denial)
    registries.of(ReplayHooks).register(record_replay)
    app.include_router(router)
    app.include_router(APIRouter(lifespan=sealer))

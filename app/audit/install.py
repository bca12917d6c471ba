"""The audit domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.audit.router import router
from app.audit.service import record_denial, record_replay
from app.platform.extensions import registries_of
from app.platform.idempotency import ReplayHooks
from app.platform.problems import DenialHooks


def install(app: FastAPI) -> None:
    """The audit trail's routes, and the record of every refused request and of
    every replayed create."""
    registries = registries_of(app)
    registries.of(DenialHooks).register(record_denial)
    registries.of(ReplayHooks).register(record_replay)
    app.include_router(router)

"""The audit domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.audit.router import router
from app.audit.service import record_denial
from app.platform.extensions import registries_of
from app.platform.problems import DenialHooks


def install(app: FastAPI) -> None:
    """The audit trail's routes, and the record of every refused request."""
    registries_of(app).of(DenialHooks).register(record_denial)
    app.include_router(router)

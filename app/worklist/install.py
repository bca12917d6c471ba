"""The worklist's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.platform.extensions import registries_of
from app.worklist.registry import TaskProviders
from app.worklist.router import build_router


def install(app: FastAPI) -> None:
    """Serve ``/me/tasks``: installed after every domain that registers providers."""
    providers = registries_of(app).of(TaskProviders)
    providers.freeze()
    app.include_router(build_router(providers.kinds()))

"""The concerns domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.concerns.router import router


def install(app: FastAPI) -> None:
    """Concern intake and screening."""
    app.include_router(router)

"""The operations part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.ops import health


def install(app: FastAPI) -> None:
    """Health, readiness, metrics and the API docs with their offline assets."""
    app.include_router(health.router)
    app.mount(health.DOCS_STATIC, StaticFiles(directory=health.STATIC_DIR), name="static-docs")

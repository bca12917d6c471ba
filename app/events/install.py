"""The events domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.events.router import router


def install(app: FastAPI) -> None:
    """The event feed. The outbox itself (app/events/outbox.py) needs no installing:
    each domain emits into the session of its change."""
    app.include_router(router)

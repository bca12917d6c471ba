"""The access requests domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.access_requests import service
from app.access_requests.router import router
from app.platform.extensions import registries_of
from app.worklist.registry import TaskProviders


def install(app: FastAPI) -> None:
    """Access requests (GDPR art. 15); requests and extensions awaiting a second
    person in /me/tasks."""
    registries_of(app).of(TaskProviders).register(
        "access_requests.to_decide",
        service.requests_to_decide,
        [service.TO_DECIDE, service.EXTENSION_TO_CONFIRM],
    )
    app.include_router(router)

"""The plans domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.cases.lifecycle import CaseStatus, Gates
from app.plans import followup
from app.plans.router import router
from app.plans.router_meetings import router as meetings_router
from app.platform.extensions import registries_of
from app.worklist.registry import TaskProviders


def install(app: FastAPI) -> None:
    """Plans and meetings; no closing with open measures; measures in /me/tasks."""
    registries = registries_of(app)
    registries.of(Gates).register(None, CaseStatus.CLOSED, followup.open_measures_settled)
    registries.of(TaskProviders).register("plans.measures", followup.measures_due, followup.KINDS)
    app.include_router(router)
    app.include_router(meetings_router)

"""The risk domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.cases.lifecycle import Gates
from app.platform.config import Settings
from app.platform.extensions import registries_of
from app.risk import config as risk_config
from app.risk import gates
from app.risk.router import routers
from app.worklist.registry import TaskProviders


def install(app: FastAPI) -> None:
    """Configure the risk rules; the risk routes, the gates that need an assessment
    and the unfinished drafts of /me/tasks."""
    settings: Settings = app.state.settings
    risk_config.configure(risk_config.from_settings(settings))
    registries = registries_of(app)
    for scheme, state, fn in gates.GATES:
        registries.of(Gates).register(scheme, state, fn)
    registries.of(TaskProviders).register(
        "risk.draft_assessments", gates.draft_assessments, [gates.DRAFT_ASSESSMENT]
    )
    for router in routers:
        app.include_router(router)

"""The cases domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.auth.principal import Companions
from app.cases import lifecycle, sharing, tasks
from app.cases.access import CaseCompanion
from app.cases.router import routers
from app.platform.extensions import registries_of
from app.worklist.registry import TaskProviders


def install(app: FastAPI) -> None:
    """The case routes, the lifecycle's own gates and the consent gates, and the
    case reviews and emergency grants of /me/tasks."""
    registries = registries_of(app)
    # A case route's case rides in the caller's directory lookup (one query).
    registries.of(Companions).register(CaseCompanion())
    gates = registries.of(lifecycle.Gates)
    for scheme, state, fn in (*lifecycle.GATES, *sharing.GATES):
        gates.register(scheme, state, fn)
    providers = registries.of(TaskProviders)
    providers.register("cases.reviews", tasks.cases_to_review, [tasks.CASE_REVIEW])
    providers.register(
        "cases.emergency_grants", tasks.grants_to_review, [tasks.EMERGENCY_ACCESS_REVIEW]
    )
    providers.register(
        "cases.emergency_notices", tasks.grants_on_my_teams, [tasks.EMERGENCY_ACCESS_NOTICE]
    )
    for router in routers:
        app.include_router(router)

"""``GET /api/v1/me/tasks``: what the caller must act on, most urgent first.

The route is built when the app is (app/worklist/install.py), after every
domain registered its providers: the ``kind`` of a task is then an enum of
exactly the kinds those providers declared (the contract's ``TaskKind``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import create_model

from app.audit import service as audit
from app.auth.policy import Action, require
from app.auth.principal import Principal
from app.platform.db import SessionDep
from app.platform.extensions import registry
from app.platform.routing import api_router
from app.worklist.registry import TaskProviders, TaskRead

TaskReader = Annotated[Principal, Depends(require(Action.TASKS_READ))]
ProvidersDep = Annotated[TaskProviders, Depends(registry(TaskProviders))]


def task_model(kinds: list[str]) -> type[TaskRead]:
    """``TaskRead`` whose ``kind`` is the enum of the registered kinds."""
    kind_enum: Any = StrEnum("TaskKind", {kind.upper(): kind for kind in kinds})  # type: ignore[misc]
    model: type[TaskRead] = create_model("TaskRead", __base__=TaskRead, kind=(kind_enum, ...))
    return model


def build_router(kinds: list[str]) -> APIRouter:
    router = api_router(prefix="/api/v1", tags=["tasks"])

    @router.get("/me/tasks", response_model=list[task_model(kinds)])  # type: ignore[misc]
    async def my_tasks(
        session: SessionDep, principal: TaskReader, providers: ProvidersDep
    ) -> list[TaskRead]:
        """Measures due or overdue for me or my organisation, cases past their review,
        unfinished draft assessments, my referrals overdue or expired, referrals to my
        service awaiting an answer and, for auditors, emergency grants to review."""
        tasks = await providers.tasks_for(session, principal)
        audit.record(session, principal, Action.TASKS_READ, "user", principal.user_id)
        return tasks

    return router

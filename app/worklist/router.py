"""``GET /api/v1/me/tasks``: what the caller must act on, most urgent first.

This module knows no domain. Domains *register* providers at import time
(:func:`register_provider`); each returns the caller's tasks from its own
tables, already limited to what the caller may see and never from a closed
case. The route merges them and sorts by urgency: overdue first, then by due
time, then by priority.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action, require
from app.auth.principal import Principal
from app.platform.clock import clock
from app.platform.db import SessionDep, utcnow


class TaskKind(StrEnum):
    MEASURE_DUE = "measure_due"
    MEASURE_OVERDUE = "measure_overdue"
    CASE_REVIEW = "case_review"
    DRAFT_ASSESSMENT = "draft_assessment"
    EMERGENCY_ACCESS_REVIEW = "emergency_access_review"
    REFERRAL_OVERDUE = "referral_overdue"  # the referrer: no answer within the target
    REFERRAL_EXPIRED = "referral_expired"  # the referrer: it failed unanswered
    REFERRAL_TO_ANSWER = "referral_to_answer"  # the receiving service: waiting for you


class TaskRead(BaseModel):
    kind: TaskKind
    title: str = Field(description="A short label; never personal data.")
    due_at: datetime | None
    overdue: bool
    #: 0 most urgent .. 3 least, within the same due time.
    priority: int = 2
    case_id: uuid.UUID | None = None
    case_reference: str | None = None
    target_type: str
    target_id: uuid.UUID


Provider = Callable[[AsyncSession, Principal, datetime], Awaitable[list[TaskRead]]]
_PROVIDERS: dict[str, Provider] = {}


def register_provider(name: str, fn: Provider) -> None:
    if name in _PROVIDERS:
        raise RuntimeError(f"task provider {name} registered twice")
    _PROVIDERS[name] = fn


def providers() -> dict[str, Provider]:
    return dict(_PROVIDERS)


def urgency(task: TaskRead) -> tuple[int, datetime, int, str]:
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)
    return (0 if task.overdue else 1, task.due_at or far, task.priority, str(task.target_id))


async def tasks_for(session: AsyncSession, principal: Principal) -> list[TaskRead]:
    now = clock.now()
    found: list[TaskRead] = []
    for fn in _PROVIDERS.values():
        found.extend(await fn(session, principal, now))
    return sorted(found, key=urgency)


router = APIRouter(prefix="/api/v1", tags=["tasks"])
TaskReader = Annotated[Principal, Depends(require(Action.TASKS_READ))]


@router.get("/me/tasks", response_model=list[TaskRead])
async def my_tasks(session: SessionDep, principal: TaskReader) -> list[TaskRead]:
    """Measures due or overdue for me or my organisation, cases past their review,
    unfinished draft assessments, my referrals overdue or expired, referrals to my
    service awaiting an answer and, for auditors, emergency grants to review."""
    tasks = await tasks_for(session, principal)
    audit.record(session, principal, Action.TASKS_READ, "user", principal.user_id)
    return tasks

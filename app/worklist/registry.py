"""The ``/me/tasks`` registry: which provider produces which kinds of task.

This module knows no domain. Each domain registers its providers from its own
``install(app)`` into the app's :class:`TaskProviders` (app/platform/extensions.py),
declaring the task *kinds* each one produces: a kind belongs to its provider,
and there is no central list of them. A provider returns the caller's tasks
from its own tables, already limited to what the caller may see and never from
a closed case. :func:`tasks_for` merges them and sorts by urgency: overdue first,
then by due time, then by priority.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.clock import clock


class TaskRead(BaseModel):
    #: One of the kinds its provider declared; the route's schema lists them all.
    kind: str
    title: str = Field(description="A short label; never personal data.")
    due_at: datetime | None
    overdue: bool
    #: 0 most urgent .. 3 least, within the same due time.
    priority: int = 2
    case_id: uuid.UUID | None = None
    case_reference: str | None = None
    target_type: str
    target_id: uuid.UUID


ProviderFn = Callable[[AsyncSession, Principal, datetime], Awaitable[list[TaskRead]]]


@dataclass(frozen=True)
class Provider:
    name: str
    kinds: tuple[str, ...]
    fn: ProviderFn


class TaskProviders:
    """The app's task providers, in registration order (one per app)."""

    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}
        self._frozen = False

    def register(self, name: str, fn: ProviderFn, kinds: Iterable[str]) -> None:
        if self._frozen:
            raise RuntimeError(f"task provider {name} registered after /me/tasks was built")
        if name in self._providers:
            raise RuntimeError(f"task provider {name} registered twice")
        owned = tuple(kinds)
        taken = set(owned) & set(self.kinds())
        if taken or not owned:
            raise RuntimeError(f"task provider {name}: kinds {sorted(taken)} taken or none given")
        self._providers[name] = Provider(name, owned, fn)

    def freeze(self) -> None:
        """No more providers: the route's schema is built from :meth:`kinds`."""
        self._frozen = True

    def kinds(self) -> list[str]:
        """Every kind of task, in the order the providers registered them."""
        return [kind for provider in self._providers.values() for kind in provider.kinds]

    def get(self, name: str) -> ProviderFn:
        return self._providers[name].fn

    async def tasks_for(self, session: AsyncSession, principal: Principal) -> list[TaskRead]:
        now = clock.now()
        found: list[TaskRead] = []
        for provider in self._providers.values():
            for task in await provider.fn(session, principal, now):
                if task.kind not in provider.kinds:
                    raise RuntimeError(f"{provider.name} produced a task of kind {task.kind}")
                found.append(task)
        return sorted(found, key=urgency)


def urgency(task: TaskRead) -> tuple[int, datetime, int, str]:
    far = datetime.max.replace(tzinfo=UTC)
    return (0 if task.overdue else 1, task.due_at or far, task.priority, str(task.target_id))

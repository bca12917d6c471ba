"""The dependency that hands a route a loader bound to the checked caller.

A loader of the object a path names checks the role, then loads the object
through the caller's sight (:func:`path_loader`). Routes that load their object
where the route reads its id (from the body, or after an idempotent replay had
its chance) get a loader bound to the session and the caller: :func:`caller_bound`.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.db import SessionDep

L = TypeVar("L")


def caller_bound(
    make: Callable[[AsyncSession, Principal], L], guard: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[L]]:
    """A dependency: ``guard`` (the role check) passes, then ``make(session, caller)``."""

    async def dependency(session: SessionDep, principal: Annotated[Principal, Depends(guard)]) -> L:
        return make(session, principal)

    return dependency


def path_loader(
    guard: Callable[..., Awaitable[Any]],
    id_name: str,
    load: Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[L]],
    description: str | None = None,
) -> Callable[..., Awaitable[L]]:
    """A dependency: ``guard`` (the role check) passes, then ``load(session, caller,
    the id the path names as id_name)``."""
    ObjectId = Annotated[uuid.UUID, Path(alias=id_name, description=description)]

    async def dependency(
        object_id: ObjectId, session: SessionDep, principal: Annotated[Principal, Depends(guard)]
    ) -> L:
        return await load(session, principal, object_id)

    return dependency

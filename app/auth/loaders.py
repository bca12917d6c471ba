"""The dependency that hands a route a loader bound to the checked caller.

Several routes load their object where the route reads its id (from the body,
or after an idempotent replay had its chance), so their dependency only checks
the role and binds the session and the caller: :func:`caller_bound`.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends
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

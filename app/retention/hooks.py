"""Hooks called inside a case's purge transaction (crypto-shredding registers here).

``PurgeHooks`` lives in the application's registries (app/platform/extensions.py),
like ``DenialHooks``: a domain's ``install(app)`` registers a hook, and the
retention run calls every hook with ``(session, case_id)`` after the case has
been re-checked (still due, no hold) and before its rows are deleted, in the same
transaction. A hook that raises rolls the whole case back: nothing of it is
purged, and the run reports the failure and goes on with the next case. The
per-case data keys of issue 15 (destroying the case's key) are meant to be
registered here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.extensions import Hooks

PurgeHook = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]


class PurgeHooks(Hooks[PurgeHook]):
    """The app's hooks for a case being purged."""

    kind = "purge"

    async def __call__(self, session: AsyncSession, case_id: uuid.UUID) -> None:
        for hook in self.hooks:
            await hook(session, case_id)

"""Loading (or locking) a row by its primary key, or answering 404."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.problems import NotFound, field_error

T = TypeVar("T")


async def get_or_404(session: AsyncSession, model: type[T], row_id: uuid.UUID, detail: str) -> T:
    """The ``model`` row ``row_id``; a missing one is a 404 saying ``detail``."""
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound(detail)
    return row


async def named_or_422(
    session: AsyncSession, model: type[T], row_id: uuid.UUID, field: str, detail: str
) -> T:
    """The ``model`` row a request names in ``field``; a missing one is a 422 on that
    field (reason ``not_found``) saying ``detail``."""
    row = await session.get(model, row_id)
    if row is None:
        raise field_error(field, detail, "not_found")
    return row


async def lock_row(session: AsyncSession, model: Any, row_id: uuid.UUID) -> bool:
    """Whether the ``model`` row ``row_id`` exists; if it does, it stays locked (FOR
    UPDATE on PostgreSQL) until the transaction ends."""
    stmt = select(model.id).where(model.id == row_id).with_for_update()
    return await session.scalar(stmt) is not None

"""Loading a row by its primary key, or answering 404."""

from __future__ import annotations

import uuid
from typing import TypeVar

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

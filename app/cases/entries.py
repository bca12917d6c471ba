"""The removable entries of a case (members, participants, must-not-receive entries).

Each is a row with ``case_id`` and ``removed_at`` (None while it stands); one of
another case, or one removed, is a 404 like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ExecutableOption

from app.cases.access import CaseAccess, not_found
from app.platform.db import utcnow

E = TypeVar("E")


def standing(model: Any, access: CaseAccess) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The case's entries of ``model`` that have not been removed."""
    return model.case_id == access.case.id, model.removed_at.is_(None)


async def list_standing(
    session: AsyncSession,
    access: CaseAccess,
    model: type[E],
    listed: str,
    *options: ExecutableOption,
) -> Sequence[E]:
    """The standing entries, oldest first; audited as ``listed``."""
    entity: Any = model
    stmt = select(entity).where(*standing(entity, access)).options(*options)
    rows: Sequence[E] = (await session.scalars(stmt.order_by(entity.created_at, entity.id))).all()
    access.audit(session, listed)
    return rows


async def get_standing(
    session: AsyncSession,
    access: CaseAccess,
    model: type[E],
    entry_id: uuid.UUID,
    action: str,
    target_type: str,
    *options: ExecutableOption,
) -> E:
    """One standing entry *of this case*, or a 404 denial (``target_type``, ``action``)."""
    entity: Any = model
    stmt = select(entity).where(entity.id == entry_id, *standing(entity, access))
    entry: E | None = await session.scalar(stmt.options(*options))
    if entry is None:
        raise not_found(action, access.principal, target_type, entry_id)
    return entry


def reinstate(entry: Any, access: CaseAccess) -> None:
    """Add an entry (new, or standing again after a removal) as the caller's."""
    entry.added_by = access.principal.user_id
    entry.removed_at = None
    entry.removed_by = None


async def remove_standing(
    session: AsyncSession, access: CaseAccess, entry: Any, removed: str, target_type: str
) -> None:
    """Soft removal: the row stays (by whom, and when), so what it allowed stays answerable."""
    entry.removed_at = utcnow()
    entry.removed_by = access.principal.user_id
    await session.flush()
    access.audit(session, removed, target_type, entry.id)


async def amend_standing(
    session: AsyncSession, access: CaseAccess, entry: Any, updated: str, target_type: str
) -> None:
    """Flush an edited entry with its ``updated_at``; audited as ``updated``."""
    entry.updated_at = utcnow()
    await session.flush()
    access.audit(session, updated, target_type, entry.id)

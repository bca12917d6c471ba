"""Keyset (cursor) pagination: ``(sort_key, id)`` pairs, never OFFSET."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.platform.inputs import refusal
from app.platform.problems import field_error

T = TypeVar("T")
RowT = TypeVar("RowT")
SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 100).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="Opaque cursor from `next_cursor`.")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def rendered(found: tuple[Sequence[RowT], str | None], render: Callable[[RowT], T]) -> Page[T]:
    """The page a list route answers: ``found`` (rows and the next cursor, as
    :func:`fetch_page` returns them) with each row rendered by ``render``."""
    rows, next_cursor = found
    return Page(items=[render(row) for row in rows], next_cursor=next_cursor)


def where_given(stmt: SelectT, *filters: tuple[Any, Any]) -> SelectT:
    """``stmt`` narrowed to ``column == value`` for each ``(column, value)`` filter of a
    list whose value was given (not None, not an empty string)."""
    for column, value in filters:
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    return stmt


def encode_cursor(sort_value: Any, row_id: uuid.UUID) -> str:
    if isinstance(sort_value, datetime):
        payload = {"t": sort_value.isoformat(), "id": str(row_id)}
    else:
        payload = {"v": sort_value, "id": str(row_id)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        row_id = uuid.UUID(payload["id"])
        value = datetime.fromisoformat(payload["t"]) if "t" in payload else payload["v"]
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise field_error(
            "cursor",
            "The cursor is not valid.",
            "invalid",
            location="query",
        ) from exc
    return value, row_id


def _check_sort_value(value: Any, sort_col: InstrumentedAttribute[Any]) -> None:
    """A cursor is opaque but not trusted: its sort value must fit the column."""
    column_type = sort_col.type
    # A TypeDecorator (UTCDateTime) reports the Python type of what it wraps.
    expected = getattr(column_type, "impl_instance", column_type).python_type
    fits = isinstance(value, expected) and not isinstance(value, bool)
    if isinstance(value, datetime) and value.tzinfo is None:
        fits = False
    # The input policy: 64-bit integers, no NUL, date-times that convert to UTC.
    if refusal(value) is not None:
        fits = False
    if not fits:
        raise field_error(
            "cursor",
            "The cursor is not valid.",
            "invalid",
            location="query",
        )


def apply_keyset(
    stmt: SelectT,
    sort_col: InstrumentedAttribute[Any],
    id_col: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
    descending: bool = True,
) -> SelectT:
    """Order by ``(sort_col, id)`` and start after the cursor; fetch one extra row."""
    if cursor:
        value, row_id = decode_cursor(cursor)
        _check_sort_value(value, sort_col)
        if descending:
            stmt = stmt.where(or_(sort_col < value, and_(sort_col == value, id_col < row_id)))
        else:
            stmt = stmt.where(or_(sort_col > value, and_(sort_col == value, id_col > row_id)))
    order = (sort_col.desc(), id_col.desc()) if descending else (sort_col.asc(), id_col.asc())
    return stmt.order_by(*order).limit(limit + 1)


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    sort_col: InstrumentedAttribute[Any],
    id_col: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """One page of the entities ``stmt`` selects, by ``(sort_col, id)``, and the next cursor."""
    stmt = apply_keyset(stmt, sort_col, id_col, cursor, limit, descending)
    return page_of((await session.scalars(stmt)).all(), limit, sort_col.key)


def page_of(rows: Sequence[Any], limit: int, sort_attr: str) -> tuple[list[Any], str | None]:
    """Split the fetched rows into the page and the cursor for the next one."""
    items = list(rows[:limit])
    if len(rows) > limit and items:
        last = items[-1]
        return items, encode_cursor(getattr(last, sort_attr), last.id)
    return items, None

"""aiosqlite with one thread hand-off per statement instead of four.

SQLAlchemy's aiosqlite adapter runs every statement as four calls queued to
aiosqlite's connection thread: ``cursor()``, ``execute()``, ``fetchall()`` and
``close()``. Each is a round trip between the event loop and that thread (a
queue put, a GIL hand-over, a future resolved by ``call_soon_threadsafe``);
an authorised read made sixteen of them, and py-spy put the hand-offs at about
a third of a SQLite request's CPU (bench/README.md, issue 13).

Here the cursor runs the whole statement in ONE function on the connection
thread (open a sqlite3 cursor, execute, fetch every row, close) and keeps the
description, row count, last row id and rows for SQLAlchemy to read. Same
SQL, same transactions, same sqlite3 errors (SQLAlchemy's adapter translates
them as before); only the number of hops changes. Server-side cursors are
SQLAlchemy's own, unchanged.

It uses ``aiosqlite.Connection._execute`` (queue a function for the
connection's thread), the method every public aiosqlite call is built on; the
whole test suite runs on this driver, so a change there fails loudly.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

# (description, rows, rowcount, lastrowid)
Outcome = tuple[Any, list[Any], int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """On the connection's thread: the whole statement, cursor closed after."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _on_thread(
    connection: aiosqlite.Connection, operation: str, parameters: Any, many: bool
) -> Outcome:
    return _run(connection._conn, operation, parameters, many)


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement costs one hop to the connection thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor (that is a hop of its own): each execute opens and
        # closes a sqlite3 cursor on the connection's thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # every row is fetched at once anyway

    async def _async_soft_close(self) -> None:
        pass  # the sqlite3 cursor was closed on the thread already

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome: Outcome = await self._connection._execute(
                _on_thread, self._connection, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (``module=``)."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI | None:
    """The one-hop DBAPI, or None (use SQLAlchemy's stock adapter) when the
    private hooks it builds on are not there: a newer aiosqlite or SQLAlchemy
    then costs speed, never correctness (pyproject.toml pins the tested ranges)."""
    hooks = (
        callable(getattr(aiosqlite.Connection, "_execute", None)),
        hasattr(AsyncAdapt_aiosqlite_connection, "_cursor_cls"),
        hasattr(AsyncAdapt_aiosqlite_cursor, "_execute_async"),
        hasattr(AsyncAdapt_aiosqlite_cursor, "_executemany_async"),
    )
    return OneHopDBAPI(aiosqlite, sqlite3) if all(hooks) else None

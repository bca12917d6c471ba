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

import asyncio
import collections
import sqlite3
from collections.abc import Sequence
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
    connection: aiosqlite.Connection,
    operation: str,
    parameters: Any,
    many: bool,
    prelude: Sequence[str],
) -> Outcome:
    for statement in prelude:  # transaction control that rides in the same hop
        connection._conn.execute(statement)
    return _run(connection._conn, operation, parameters, many)


#: Statements that never write: a read transaction runs them as they come.
READS = frozenset({"SELECT", "EXPLAIN", "VALUES"})


def _keyword(operation: str) -> str:
    return operation.lstrip()[:12].split(None, 1)[0].upper() if operation.strip() else ""


class WriteGate:
    """One writing transaction at a time among this process's connections to one
    SQLite file, queued first come first served (SQLite's own busy handler would
    sleep and back off instead)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()


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
        connection: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        prelude = await connection.before(operation) if connection.gate is not None else ()
        async with connection._execute_mutex:
            outcome: Outcome = await self._connection._execute(
                _on_thread, self._connection, operation, parameters, many, prelude
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """With a :class:`WriteGate`: every writing transaction holds the gate from
    its first write to its end; a read transaction (``defer_begin``) reads
    without it and, at its first write, restarts as a writing one."""

    __slots__ = ("_holds", "_savepoints", "_state", "gate")
    _cursor_cls = OneHopCursor

    def setup(self, gate: WriteGate | None) -> None:
        self.gate = gate
        self._state = "idle"  # idle | pending (deferred BEGIN) | reading | writing
        self._holds = False
        self._savepoints: list[str] = []

    @property
    def writing(self) -> bool:
        """Whether the transaction holds (or began to take) the write lock."""
        return self.gate is None or self._state == "writing"

    def defer_begin(self) -> None:
        """Begin a read transaction: BEGIN rides with the first statement."""
        self._state = "pending"

    async def _take(self) -> None:
        assert self.gate is not None
        await self.gate.acquire()
        self._holds = True
        self._state = "writing"

    async def before(self, operation: str) -> tuple[str, ...]:
        """What must run before ``operation`` in its hop, taking the gate first
        when the transaction starts writing."""
        word = _keyword(operation)
        prelude: tuple[str, ...] = ()
        if word == "BEGIN" and self._state == "idle":  # a writing transaction
            await self._take()
        elif self._state == "pending":
            if word in READS:
                self._state = "reading"
                prelude = ("BEGIN",)
            else:
                await self._take()
                prelude = ("BEGIN IMMEDIATE",)
        elif self._state == "reading" and word not in READS and word not in CONTROL:
            # The first write of a read transaction: nothing was written, so end
            # it and begin again holding the write lock (savepoints re-made).
            await self._take()
            prelude = ("ROLLBACK", "BEGIN IMMEDIATE", *(f"SAVEPOINT {n}" for n in self._savepoints))
        if word == "SAVEPOINT":
            self._savepoints.append(operation.split()[1])
        elif word == "RELEASE":
            name = operation.split()[-1]
            if name in self._savepoints:
                del self._savepoints[self._savepoints.index(name) :]
        elif word == "ROLLBACK" and "TO" in operation.upper().split()[:3]:
            name = operation.split()[-1]
            if name in self._savepoints:
                del self._savepoints[self._savepoints.index(name) + 1 :]
        return prelude

    def _end(self) -> None:
        self._state = "idle"
        self._savepoints.clear()
        if self._holds:
            self._holds = False
            assert self.gate is not None
            self.gate.release()

    def commit(self) -> None:
        if self.gate is None:
            return super().commit()
        if self._state == "pending":
            self._end()
            return None
        try:
            return super().commit()
        finally:
            self._end()

    def rollback(self) -> None:
        if self.gate is None:
            return super().rollback()
        if self._state == "pending":
            self._end()
            return None
        try:
            return super().rollback()
        finally:
            self._end()

    def close(self) -> None:
        if self.gate is not None:
            self._end()
        return super().close()


#: Transaction control: neither a read nor a write of its own.
CONTROL = frozenset({"SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "END", "BEGIN"})


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (``module=``)."""

    gate: WriteGate | None = None

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        connection = OneHopConnection(self, adapted._connection)
        connection.setup(self.gate)
        return connection


def one_hop_dbapi(gate: WriteGate | None = None) -> OneHopDBAPI | None:
    """The one-hop DBAPI, or None (use SQLAlchemy's stock adapter) when the
    private hooks it builds on are not there: a newer aiosqlite or SQLAlchemy
    then costs speed, never correctness (pyproject.toml pins the tested ranges)."""
    hooks = (
        callable(getattr(aiosqlite.Connection, "_execute", None)),
        hasattr(AsyncAdapt_aiosqlite_connection, "_cursor_cls"),
        hasattr(AsyncAdapt_aiosqlite_cursor, "_execute_async"),
        hasattr(AsyncAdapt_aiosqlite_cursor, "_executemany_async"),
    )
    if not all(hooks):
        return None
    module = OneHopDBAPI(aiosqlite, sqlite3)
    module.gate = gate
    return module

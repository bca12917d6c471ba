"""Database core: declarative base, typed mixins, engine and the request session.

One transaction per request: the route opens it (app/platform/routing.py
``SessionRoute``), :func:`get_session` hands it to the dependencies, services
only ``flush()``, and the route commits once before the response is sent or
rolls back on any exception.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Integer, MetaData, event, func
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from app.platform.clock import clock
from app.platform.sqlite_driver import one_hop_dbapi

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The application clock's now (app/platform/clock.py), for column defaults too.

    Not a second time source: frozen in a test, every timestamp and every
    deadline read the same instant.
    """
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class UUIDPk:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Versioned:
    """Optimistic concurrency: the ``version`` column is the ETag.

    SQLAlchemy adds ``WHERE version = :old`` to every UPDATE, so two writers
    that both read version N cannot both succeed.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        table = cls.__table__  # type: ignore[attr-defined]
        return {"version_id_col": table.c.version}


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000",
            "PRAGMA synchronous=FULL",
            # Freed pages (deleted rows, expired Idempotency-Keys, dropped columns)
            # are zeroed, so nothing deleted lingers in the file or its WAL.
            "PRAGMA secure_delete=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Every request writes (at least its audit row), so take the write lock
        # up front; a deferred BEGIN would fail with SQLITE_BUSY on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_postgresql(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # asyncpg's own liveness check, without a round trip: the socket was
        # closed (server restart, pg_terminate_backend, idle timeout). The pool
        # then discards the connection and checks out another (SQLAlchemy's
        # "pessimistic disconnect handling").
        if record.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")


def make_engine(url: str, echo: bool = False) -> AsyncEngine:
    # hide_parameters: bound values (names, notes, texts) never reach an echoed
    # SQL log line or a DBAPI error message; sealed fields are ciphertext anyway.
    # PostgreSQL: keep enough connections for a worker's concurrent requests.
    # With SQLAlchemy's default pool of 5, a burst opens overflow connections
    # that are closed again on return, so every burst pays connection set-up
    # again (measured with bench/bench_hotpath.py).
    kwargs: dict[str, Any] = {
        "echo": echo,
        "hide_parameters": True,
        # No pre-ping: on asyncpg it is three round trips (BEGIN, ";", ROLLBACK)
        # on every checkout. A connection the server closed is noticed locally
        # instead (_configure_postgresql), and none outlives half an hour.
        "pool_recycle": 1800,
        "pool_size": 20,
        "max_overflow": 10,
    }
    if url.startswith("sqlite"):
        for key in ("pool_recycle", "pool_size", "max_overflow"):
            kwargs.pop(key)
        if ":memory:" not in url and not url.rstrip("/").endswith(":"):
            # SQLite has one writer at a time and every request writes (its audit
            # row). Queue requests in the pool, first come first served, instead
            # of letting SQLite's busy handler sleep and back off under load.
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
    if url.startswith("sqlite+aiosqlite:") and (module := one_hop_dbapi()) is not None:
        # One hop to the driver's thread per statement instead of four.
        kwargs["module"] = module
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.driver == "asyncpg":
        _configure_postgresql(engine)
    return engine


class Database:
    """Holds the engine and the session factory the app uses."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine | None):
        self.sessionmaker = sessionmaker
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, echo: bool = False) -> Database:
        engine = make_engine(url, echo=echo)
        return cls(async_sessionmaker(engine, expire_on_commit=False), engine)

    @classmethod
    def bound_to(cls, connection: AsyncConnection) -> Database:
        """Sessions that join an outer transaction with SAVEPOINTs (used by tests)."""
        maker = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        return cls(maker, None)

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()


#: Where the request's session waits for :func:`get_session` (set by
#: app/platform/routing.py ``SessionRoute``, which opens and ends it).
SESSION_SCOPE_KEY = "casecoord.session"


async def get_session(request: Request) -> AsyncSession:
    """The request's one session, opened by its route (app/platform/routing.py).

    The route commits it once the response is built and before it is sent, or
    rolls it back on any exception (before the exception handlers write a
    denial's audit row in a transaction of their own).
    """
    session: AsyncSession | None = request.scope.get(SESSION_SCOPE_KEY)
    if session is None:
        # Never a silent second session: create_app refuses such a route at start.
        raise RuntimeError(f"{request.url.path}: its route is not a SessionRoute")
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

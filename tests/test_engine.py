"""The engine make_engine builds: SQLite's one-hop driver, PostgreSQL's liveness check.

Both are issue 13's levers (bench/README.md); these tests pin what they must
keep: the same results and errors as the stock driver, and no dead connection
handed to a request.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from app.platform.db import make_engine


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function queued to an aiosqlite connection's thread (counted, then run)."""
    queued: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        queued.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return queued


async def test_sqlite_runs_each_statement_in_one_hop(tmp_path: Path, hops: list[str]) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        async with engine.connect() as conn:
            hops.clear()
            await conn.begin()  # BEGIN IMMEDIATE: one hop
            rows = (await conn.execute(text("SELECT 1, 'a' UNION ALL SELECT 2, 'b'"))).all()
            assert hops == ["_on_thread", "_on_thread"]
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]

            many = await conn.execute(
                text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x"}, {"v": "y"}, {"v": "z"}]
            )
            assert many.rowcount == 3
            one = await conn.execute(text("INSERT INTO t (v) VALUES ('w')"))
            assert one.lastrowid == 4
            returned = await conn.execute(
                text("UPDATE t SET v = v || '!' WHERE id <= 2 RETURNING id, v")
            )
            assert sorted(tuple(r) for r in returned) == [(1, "x!"), (2, "y!")]
            updated = await conn.execute(text("UPDATE t SET v = v || '?' WHERE id > 2"))
            assert updated.rowcount == 2
            assert len(hops) == 6  # BEGIN and five statements, one hop each
            await conn.commit()

            with pytest.raises(IntegrityError):  # the driver's error, translated as before
                await conn.execute(text("INSERT INTO t (v) VALUES ('w?')"))
            await conn.rollback()
            # A failed statement leaves the connection usable.
            count = await conn.scalar(text("SELECT count(*) FROM t"))
            assert count == 4
    finally:
        await engine.dispose()


async def _terminate(url: str, pid: int) -> None:
    import asyncpg

    admin = make_url(url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_postgresql_replaces_a_connection_the_server_closed(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (CASECOORD_TEST_DATABASE_URL)")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert engine.pool.checkedin() == 1  # the pool holds that one connection
        await _terminate(database_url, pid)
        await asyncio.sleep(0.2)  # the closed socket reaches asyncpg's protocol
        # No pre-ping round trip, yet the request gets a live connection.
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()

"""Reads side by side on a SQLite file, the write lock taken late (issue 13).

A request that only reads (GET, HEAD) gets a session from the read pool
(app/platform/db.py ``Database.read_sessionmaker``): its transaction reads
without SQLite's write lock; its first write, if any, restarts it holding the
lock (app/platform/sqlite_driver.py); and its access-log rows join a group
commit that is durable before the commit returns (``SideRows``). These tests
run on a SQLite file of their own, whatever backend the suite is on.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.directory.models import Organisation
from app.ops.migrate import upgrade
from app.platform.db import Database, side_rows


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reads') / 'reads.db'}"
    thread = threading.Thread(target=upgrade, args=(url,))  # alembic runs its own loop
    thread.start()
    thread.join()
    return url


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(sqlite_url)
    yield db
    await db.dispose()


def _org(code: str) -> Organisation:
    return Organisation(code=code, name="Reads", kind="social", version=1)


def _code() -> str:
    return f"rd-{uuid.uuid4().hex[:12]}"


async def _orgs(db: Database, code: str) -> int:
    async with db.sessionmaker() as s:
        stmt = select(func.count()).select_from(Organisation).where(Organisation.code == code)
        return int((await s.execute(stmt)).scalar_one())


async def _audited(db: Database, action: str) -> int:
    async with db.sessionmaker() as s:
        stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        return int((await s.execute(stmt)).scalar_one())


def test_a_file_has_a_read_pool_and_memory_does_not(sqlite_url: str) -> None:
    db = Database.from_url(sqlite_url)
    assert db.read_engine is not None and db.read_sessionmaker is not db.sessionmaker
    memory = Database.from_url("sqlite+aiosqlite://")
    assert memory.read_engine is None and memory.read_sessionmaker is memory.sessionmaker


async def test_reads_go_on_while_a_writer_holds_the_lock(database: Database) -> None:
    code = _code()
    async with database.sessionmaker() as writer:
        writer.add(_org(code))
        await writer.flush()  # BEGIN IMMEDIATE: the write lock is held from here
        async with database.read_sessionmaker() as reader:
            # Not blocked by the writer, and its uncommitted row is not seen.
            seen = await asyncio.wait_for(
                reader.scalar(select(func.count()).where(Organisation.code == code)), 5
            )
            assert seen == 0
        await writer.commit()
    assert await _orgs(database, code) == 1


async def test_a_read_that_writes_restarts_holding_the_lock(database: Database) -> None:
    mine, theirs = _code(), _code()
    async with database.read_sessionmaker() as reader:
        await reader.execute(select(Organisation.id).limit(1))  # a read snapshot is open
        async with database.sessionmaker.begin() as writer:
            writer.add(_org(theirs))  # committed after the reader's snapshot began
        reader.add(_org(mine))
        await reader.flush()  # would be SQLITE_BUSY_SNAPSHOT without the restart
        seen = await reader.scalar(select(func.count()).where(Organisation.code == theirs))
        assert seen == 1  # after the restart the reader sees the newest data
        await reader.commit()
    assert await _orgs(database, mine) == 1


async def test_a_writer_waits_for_the_reader_that_started_writing(database: Database) -> None:
    first, second = _code(), _code()
    order: list[str] = []
    async with database.read_sessionmaker() as reader:
        await reader.execute(select(Organisation.id).limit(1))
        reader.add(_org(first))
        await reader.flush()  # the reader now holds the gate

        async def write_second() -> None:
            async with database.sessionmaker.begin() as writer:
                await writer.connection()  # BEGIN IMMEDIATE: waits for the gate
                order.append("writer began")
                writer.add(_org(second))

        waiting = asyncio.create_task(write_second())
        await asyncio.sleep(0.2)
        assert order == []  # queued behind the reader, not failing with SQLITE_BUSY
        order.append("reader commits")
        await reader.commit()
    await asyncio.wait_for(waiting, 5)
    assert order == ["reader commits", "writer began"]
    assert await _orgs(database, first) == await _orgs(database, second) == 1


async def test_savepoints_before_the_first_write_are_made_again(database: Database) -> None:
    kept, dropped = _code(), _code()
    async with database.read_sessionmaker() as reader:
        await reader.execute(select(Organisation.id).limit(1))
        async with reader.begin_nested():
            reader.add(_org(kept))
            await reader.flush()  # the restart inside a savepoint re-makes it
        with pytest.raises(IntegrityError):
            async with reader.begin_nested():
                reader.add(_org(dropped))
                reader.add(_org(kept))  # a duplicate code: this savepoint rolls back
                await reader.flush()
        await reader.commit()
    assert await _orgs(database, kept) == 1
    assert await _orgs(database, dropped) == 0


async def test_read_only_access_rows_are_durable_when_the_commit_returns(
    database: Database,
) -> None:
    action = f"test.read.{uuid.uuid4().hex[:8]}"

    async def one_read() -> None:
        async with database.read_sessionmaker() as reader:
            await reader.execute(select(Organisation.id).limit(1))
            assert side_rows(reader.sync_session) is not None  # nothing written yet
            audit.record(reader, None, action, "case", uuid.uuid4())
            await reader.commit()
        # Seen from another connection as soon as the commit returned.
        assert await _audited(database, action) >= 1

    await asyncio.gather(*(one_read() for _ in range(12)))
    assert await _audited(database, action) == 12


async def test_a_read_that_wrote_keeps_its_access_row_in_its_own_transaction(
    database: Database,
) -> None:
    code, action = _code(), f"test.wrote.{uuid.uuid4().hex[:8]}"
    async with database.read_sessionmaker() as reader:
        reader.add(_org(code))
        await reader.flush()
        assert side_rows(reader.sync_session) is None  # it wrote: no group commit
        audit.record(reader, None, action, "organisation", code)
        await reader.rollback()
    assert await _orgs(database, code) == 0
    assert await _audited(database, action) == 0  # rolled back with the write


async def test_one_bad_row_fails_only_its_own_request(database: Database) -> None:
    assert database.read_engine is not None
    from app.platform.db import _SIDE_ROWS

    side = _SIDE_ROWS[database.read_engine.sync_engine]
    statement = insert(AuditEvent.__table__)  # type: ignore[arg-type]
    action = f"test.batch.{uuid.uuid4().hex[:8]}"
    good = audit.build_event(None, action).__dict__
    row = {k: v for k, v in good.items() if not k.startswith("_")}
    bad = dict(row, id=uuid.uuid4(), action=None)  # NOT NULL: refused
    outcomes = await asyncio.gather(
        side.write(statement, [row]),
        side.write(statement, [bad]),
        side.write(statement, [dict(row, id=uuid.uuid4())]),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert await _audited(database, action) == 2


def test_the_read_pool_is_on_a_file_only(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert db.read_engine is not None
    assert db.read_engine.pool.size() > 1  # type: ignore[attr-defined]
    assert db.engine is not None and db.engine.pool.size() == 1  # type: ignore[attr-defined]

"""SQLite: a safe request reads on a read connection and writes its audit row late.

On a SQLite file of its own (the app commits for real, not inside the suite's
outer transaction), through the real app over HTTP with real tokens:

- the reads of ``GET /api/v1/cases/{id}`` run on the read pool, and only the
  audit INSERT (and the commit) on the writer;
- the audit row is committed before the response is sent: a fresh connection
  sees it as soon as the response arrives, even when the write lock was held
  by someone else while the request ran, and reads are logged in order;
- a newcomer's first GET registers them on the writer; writes never reach a
  read connection (``query_only``); other methods never use the read pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.db import Database
from tests.conftest import _in_thread
from tests.world import TokenFactory, World, build_world, open_case


@dataclass
class Scratch:
    path: Path
    db: Database
    client: httpx.AsyncClient
    world: World
    statements: dict[str, list[str]]


def _statement_log(db: Database) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"reader": [], "writer": []}
    assert db.engine is not None and db.read_engine is not None
    for name, engine in (("writer", db.engine), ("reader", db.read_engine)):

        def log(*args: Any, _name: str = name) -> None:
            seen[_name].append(args[2].split(None, 1)[0].upper())

        def commit(_conn: Any, _name: str = name) -> None:
            seen[_name].append("COMMIT")

        event.listen(engine.sync_engine, "before_cursor_execute", log)
        event.listen(engine.sync_engine, "commit", commit)
    return seen


@pytest.fixture
async def scratch(
    tmp_path: Path, settings: Settings, tokens: TokenFactory
) -> AsyncIterator[Scratch]:
    if not settings.effective_database_url.startswith("sqlite"):
        pytest.skip("read connections are how SQLite's single writer is spared")
    path = tmp_path / "read-first.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url))
    app = create_app(settings.model_copy(update={"database_url": url}))
    db: Database = app.state.db
    assert db.read_first is not None
    async with db.sessionmaker() as session:
        world = await build_world(session, tokens)
        await session.commit()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Scratch(path, db, client, world, _statement_log(db))
    await db.dispose()


def _case_reads(path: Path, case_id: str) -> list[tuple[str, str]]:
    """What a separate connection sees, committed, in insertion order."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT actor_id, outcome FROM audit_events "
            "WHERE action = 'case.read' AND target_id = ? ORDER BY rowid",
            (case_id,),
        ).fetchall()
    finally:
        conn.close()
    return [(str(uuid.UUID(actor)), outcome) for actor, outcome in rows]


async def test_reads_run_on_the_read_pool_and_only_the_audit_row_on_the_writer(
    scratch: Scratch,
) -> None:
    world = scratch.world
    case = await open_case(scratch.client, world.police, world.marak)
    await scratch.client.get("/api/v1/me", headers=world.police.headers)  # seen: no write next
    scratch.statements["reader"].clear()
    scratch.statements["writer"].clear()

    r = await scratch.client.get(f"/api/v1/cases/{case['id']}", headers=world.police.headers)

    assert r.status_code == 200
    assert scratch.statements["writer"] == ["BEGIN", "INSERT", "COMMIT"]
    assert set(scratch.statements["reader"]) == {"SELECT", "COMMIT"}
    assert _case_reads(scratch.path, case["id"]) == [(str(world.police.id), "allowed")]


async def test_the_audit_row_is_committed_before_the_response_even_behind_another_writer(
    scratch: Scratch,
) -> None:
    world = scratch.world
    case = await open_case(scratch.client, world.police, world.marak)
    blocker = sqlite3.connect(scratch.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
    try:
        read = asyncio.create_task(
            scratch.client.get(f"/api/v1/cases/{case['id']}", headers=world.police.headers)
        )
        await asyncio.sleep(0.5)
        assert not read.done()  # its reads are done, its audit row waits for the lock
        assert _case_reads(scratch.path, case["id"]) == []
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    r = await read
    assert r.status_code == 200
    assert _case_reads(scratch.path, case["id"]) == [(str(world.police.id), "allowed")]


async def test_reads_are_logged_in_order_and_each_before_its_response(scratch: Scratch) -> None:
    world = scratch.world
    case = await open_case(scratch.client, world.police, world.marak)
    readers = [world.police, world.social_worker, world.police]
    expected: list[tuple[str, str]] = []
    for actor in readers:
        r = await scratch.client.get(f"/api/v1/cases/{case['id']}", headers=actor.headers)
        expected.append((str(actor.id), "allowed" if r.status_code == 200 else "denied"))
        assert _case_reads(scratch.path, case["id"]) == expected


async def test_concurrent_reads_are_each_audited(scratch: Scratch) -> None:
    world = scratch.world
    case = await open_case(scratch.client, world.police, world.marak)
    url = f"/api/v1/cases/{case['id']}"
    responses = await asyncio.gather(
        *(scratch.client.get(url, headers=world.police.headers) for _ in range(12))
    )
    assert [r.status_code for r in responses] == [200] * 12
    assert len(_case_reads(scratch.path, case["id"])) == 12


async def test_a_newcomers_first_get_registers_them_on_the_writer(
    scratch: Scratch, tokens: TokenFactory
) -> None:
    token = tokens.mint(f"newcomer-{uuid.uuid4().hex[:8]}", ["police"], "org-new")
    r = await scratch.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert "INSERT" in scratch.statements["writer"]
    assert not {"INSERT", "UPDATE", "DELETE"} & set(scratch.statements["reader"])
    conn = sqlite3.connect(scratch.path)
    try:
        found = conn.execute(
            "SELECT count(*) FROM users WHERE id = ?", (uuid.UUID(r.json()["id"]).hex,)
        ).fetchone()
    finally:
        conn.close()
    assert found == (1,)


async def test_a_read_connection_refuses_to_write(scratch: Scratch) -> None:
    assert scratch.db.read_engine is not None
    async with scratch.db.read_engine.connect() as conn:
        with pytest.raises(OperationalError, match="readonly"):
            await conn.execute(text("DELETE FROM audit_events"))


async def test_other_methods_never_use_the_read_pool(scratch: Scratch) -> None:
    world = scratch.world
    scratch.statements["reader"].clear()
    case = await open_case(scratch.client, world.police, world.marak)
    r = await scratch.client.post(
        f"/api/v1/cases/{case['id']}/notes",
        json={"text": "Met the family.", "kind": "fact"},
        headers={**world.police.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    assert scratch.statements["reader"] == []


async def test_a_session_outside_a_request_stays_on_the_writer(scratch: Scratch) -> None:
    async with scratch.db.sessionmaker() as session:
        assert isinstance(session, AsyncSession)
        await session.execute(text("SELECT 1"))
    assert scratch.statements["reader"] == []

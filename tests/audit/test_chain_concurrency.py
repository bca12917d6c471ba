"""50 concurrent writers and several sealers on PostgreSQL leave one unforked chain.

Runs on a scratch database of its own (the writers and sealers commit), so it
cannot leak rows into the shared test database.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.audit.chain import seal_all, table
from app.audit.models import AuditEvent
from app.audit.verify import verify
from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.db import Database
from tests.conftest import TokenFactory, _in_thread, _pg_admin

WRITERS = 50
ROWS_EACH = 4


@pytest.fixture
async def scratch_pg() -> AsyncIterator[Database]:
    configured = os.environ.get("CASECOORD_TEST_DATABASE_URL")
    if not configured or not configured.startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL")
    base = make_url(configured)
    name = f"{base.database}_chain_{uuid.uuid4().hex[:8]}"
    await _pg_admin(configured, f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    db = None
    try:
        _in_thread(lambda: upgrade(url))
        db = Database.from_url(url)
        yield db
    finally:
        if db is not None:
            await db.dispose()
        await _pg_admin(configured, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_fifty_writers_and_three_sealers_leave_a_valid_chain(scratch_pg: Database) -> None:
    db = scratch_pg
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        for i in range(ROWS_EACH):
            async with db.sessionmaker.begin() as session:
                session.add(AuditEvent(actor_roles=[], action=f"test.w{n}.{i}", outcome="allowed"))
            await asyncio.sleep(0)

    async def sealer() -> int:
        sealed = 0
        while not stop.is_set():
            sealed += await seal_all(db, limit=7)
            await asyncio.sleep(0.005)
        return sealed

    sealers = [asyncio.create_task(sealer()) for _ in range(3)]
    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    stop.set()
    sealed = sum(await asyncio.gather(*sealers)) + await seal_all(db)

    assert sealed == WRITERS * ROWS_EACH
    async with db.sessionmaker() as session:
        result = await verify(session, batch=64)
        seqs = (await session.scalars(select(table.c.chain_seq).order_by(table.c.chain_seq))).all()
        total = await session.scalar(select(func.count()).select_from(table))
    assert result.ok, result.first_broken
    assert result.rows == total == WRITERS * ROWS_EACH and result.unsealed == 0
    assert list(seqs) == list(range(1, total + 1))


async def test_the_app_seals_its_own_rows_within_seconds(
    tmp_path: Path, settings: Settings, tokens: TokenFactory
) -> None:
    """The lifespan starts the sealer: a request's audit row is chained shortly after."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sealed.db'}"
    _in_thread(lambda: upgrade(url))
    app = create_app(settings.model_copy(update={"database_url": url, "audit_seal_seconds": 0.1}))
    auditor = {"Authorization": f"Bearer {tokens.mint('a-1', ['auditor'], 'org-a')}"}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get("/api/v1/audit/events", headers=auditor)
                assert r.status_code == 200
                request_id = r.headers["x-request-id"]
                deadline = time.monotonic() + 10
                seq = None
                while seq is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    async with app.state.db.sessionmaker() as session:
                        seq = await session.scalar(
                            select(table.c.chain_seq).where(table.c.request_id == request_id)
                        )
                assert seq is not None, "the row was not sealed within 10 s"
                body = (await c.post("/api/v1/audit/verify", headers=auditor)).json()
                assert body["ok"] is True and body["rows"] >= 1
    finally:
        await app.state.db.dispose()

"""The access log is append-only in the database, and a denial is committed on its own."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from tests.audit.factories import seed_events
from tests.conftest import _in_thread
from tests.world import TokenFactory

EVENTS = "/api/v1/audit/events"


class TestAuditLogIsAppendOnly:
    async def _one_row(self, db: AsyncSession) -> AuditEvent:
        return (await seed_events(db))[0]

    async def test_update_is_refused_by_the_database(self, db: AsyncSession) -> None:
        row = await self._one_row(db)
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(
                    update(AuditEvent).where(AuditEvent.id == row.id).values(outcome="denied"),
                    execution_options={"synchronize_session": False},
                )
        outcome = await db.scalar(select(AuditEvent.outcome).where(AuditEvent.id == row.id))
        assert outcome == "allowed"

    async def test_delete_is_refused_by_the_database(self, db: AsyncSession) -> None:
        row = await self._one_row(db)
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(
                    delete(AuditEvent).where(AuditEvent.id == row.id),
                    execution_options={"synchronize_session": False},
                )
        count = await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.id == row.id)
        )
        assert count == 1

    async def test_raw_sql_update_is_refused_too(self, db: AsyncSession) -> None:
        await self._one_row(db)
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(
                    text("UPDATE audit_events SET reason = 'rewritten' WHERE action = :a"),
                    {"a": "test.seeded"},
                )
        rewritten = await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.reason == "rewritten")
        )
        assert rewritten == 0


class TestDenialOnARealEngine:
    """Without the shared test connection: the denial needs its own transaction.

    SQLite takes the write lock at BEGIN, so if the refused request's session
    were still open when the denial is written, the write would wait and fail.
    This uses a scratch SQLite file on every backend, so no committed row can
    leak into the shared test database.
    """

    async def test_denial_is_committed_after_the_request_rolls_back(
        self, tmp_path: Path, settings: Settings, tokens: TokenFactory
    ) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        _in_thread(lambda: upgrade(url))
        app = create_app(settings.model_copy(update={"database_url": url}))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        police = {"Authorization": f"Bearer {tokens.mint('p-1', ['police'], 'org-a')}"}
        auditor = {"Authorization": f"Bearer {tokens.mint('a-1', ['auditor'], 'org-a')}"}
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                started = time.perf_counter()
                denied = await c.get(EVENTS, headers=police)
                assert denied.status_code == 403
                assert time.perf_counter() - started < 2, "the denial waited for a lock"
                r = await c.get(EVENTS, params={"action": "audit.read"}, headers=auditor)
        finally:
            await app.state.db.dispose()
        [event] = r.json()["items"]
        assert (event["outcome"], event["reason"]) == ("denied", "403:role")
        assert event["request_id"] == denied.headers["x-request-id"]

"""A recorded row commits and rolls back with its transaction (app/audit/pending.py).

``record`` keeps the row until the root transaction commits and inserts it then,
in that transaction; these tests pin what the ORM's unit of work used to give.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.directory.models import Organisation
from app.directory.schemas import OrganisationKind


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    s = AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield s
    await s.close()


async def _actions(connection: AsyncConnection, tag: str) -> list[str]:
    stmt = (
        select(AuditEvent.action)
        .where(AuditEvent.target_id == tag)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return list((await connection.scalars(stmt)).all())


def _record(session: AsyncSession, tag: str, action: str) -> None:
    audit.record(session, None, action, "test", tag)


class TestPendingRows:
    async def test_rows_are_written_by_the_commit_in_order(
        self, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        tag = uuid.uuid4().hex
        _record(session, tag, "test.first")
        _record(session, tag, "test.second")
        assert await _actions(connection, tag) == []  # nothing before the commit
        await session.commit()
        assert await _actions(connection, tag) == ["test.first", "test.second"]
        stmt = select(AuditEvent.outcome, AuditEvent.row_hash, AuditEvent.occurred_at)
        row = (await connection.execute(stmt.where(AuditEvent.target_id == tag))).first()
        assert row is not None
        assert row.outcome == "allowed" and row.row_hash is None  # unsealed, as ever
        assert row.occurred_at.tzinfo is not None

    async def test_a_rollback_drops_them(
        self, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        tag = uuid.uuid4().hex
        await session.execute(select(1))  # a transaction is open
        _record(session, tag, "test.lost")
        await session.rollback()
        await session.commit()
        assert await _actions(connection, tag) == []

    async def test_a_rolled_back_savepoint_takes_only_its_own_rows(
        self, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        tag = uuid.uuid4().hex
        _record(session, tag, "test.before")
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                _record(session, tag, "test.inside")
                async with session.begin_nested():
                    _record(session, tag, "test.deeper")
                raise RuntimeError("refused")
        async with session.begin_nested():
            _record(session, tag, "test.released")
        _record(session, tag, "test.after")
        await session.commit()
        assert await _actions(connection, tag) == ["test.before", "test.released", "test.after"]

    async def test_a_failed_savepoint_release_keeps_the_rows_outside_it(
        self, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        tag = uuid.uuid4().hex
        code = f"dup-{tag[:12]}"
        session.add(Organisation(code=code, name=code, kind=OrganisationKind.OTHER.value))
        await session.flush()
        _record(session, tag, "test.kept")
        with pytest.raises(IntegrityError):  # raised by the flush at the release
            async with session.begin_nested():
                _record(session, tag, "test.inside")
                session.add(Organisation(code=code, name=code, kind=OrganisationKind.OTHER.value))
        await session.commit()
        assert await _actions(connection, tag) == ["test.kept"]

    async def test_the_log_read_in_the_same_transaction_includes_them(
        self, session: AsyncSession
    ) -> None:
        tag = uuid.uuid4().hex
        await session.execute(select(1))
        _record(session, tag, "test.visible")
        rows, _cursor = await audit.list_events(
            session,
            actor_id=None,
            target_type="test",
            target_id=tag,
            action=None,
            since=None,
            until=None,
            cursor=None,
            limit=10,
        )
        assert [r.action for r in rows] == ["test.visible"]
        await session.commit()  # written once, not again at the commit
        rows, _cursor = await audit.list_events(
            session,
            actor_id=None,
            target_type="test",
            target_id=tag,
            action=None,
            since=None,
            until=None,
            cursor=None,
            limit=10,
        )
        assert len(rows) == 1

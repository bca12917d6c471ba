"""The hash chain: sealing, and verification naming the first row any tampering breaks.

Tampering is done the way an attacker with database rights would: raw SQL after
dropping the append-only trigger (inside the test's transaction, rolled back).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import GENESIS, canonical, link, seal, table
from app.audit.models import AuditEvent
from app.audit.verify import verify
from tests.audit.chain_helpers import (
    _id_param,
    drop_guard,
    rechain_from,
    sealed_rows,
    seq_of,
    shift_tail,
    sql,
)


class TestSealing:
    async def test_sealed_rows_form_a_contiguous_linked_chain(self, db: AsyncSession) -> None:
        ids = await sealed_rows(db)
        result = await verify(db)
        assert result.ok, result.first_broken
        assert result.rows >= len(ids)
        rows = (
            (
                await db.execute(
                    select(table)
                    .where(table.c.id.in_([uuid.UUID(i) for i in ids]))
                    .order_by(table.c.chain_seq)
                )
            )
            .mappings()
            .all()
        )
        seqs = [r["chain_seq"] for r in rows]
        assert seqs == list(range(seqs[0], seqs[0] + len(ids)))
        assert all(r["chain_period"] == "2001-03" and r["chain_version"] == 1 for r in rows)
        for before, after in itertools.pairwise(rows):
            assert after["prev_hash"] == before["row_hash"]
            data = canonical(after, after["chain_seq"], after["chain_period"])
            assert link(after["prev_hash"], data) == after["row_hash"]

    async def test_the_first_row_links_to_genesis(self, db: AsyncSession) -> None:
        await sealed_rows(db, 2)
        first = await db.scalar(select(table.c.prev_hash).where(table.c.chain_seq == 1))
        assert first == GENESIS

    async def test_unsealed_rows_are_reported_not_failed(self, db: AsyncSession) -> None:
        await sealed_rows(db, 2)
        db.add(AuditEvent(actor_roles=[], action="test.pending", outcome="allowed"))
        await db.commit()
        result = await verify(db)
        assert result.ok and result.unsealed >= 1
        assert await seal(db) >= 1
        assert (await verify(db)).unsealed == 0

    async def test_a_late_row_joins_the_current_period(self, db: AsyncSession) -> None:
        await sealed_rows(db, 2)
        db.add(
            AuditEvent(
                occurred_at=datetime(2001, 4, 2, tzinfo=UTC),
                actor_roles=[],
                action="test.april",
                outcome="allowed",
            )
        )
        await db.commit()
        await seal(db)
        db.add(
            AuditEvent(
                occurred_at=datetime(2001, 3, 30, tzinfo=UTC),
                actor_roles=[],
                action="test.late",
                outcome="allowed",
            )
        )
        await db.commit()
        await seal(db)
        late = await db.scalar(select(table.c.chain_period).where(table.c.action == "test.late"))
        assert late == "2001-04"  # a closed month is never reopened
        assert (await verify(db)).ok
        assert (await verify(db, period="2001-04")).rows == 2

    async def test_a_rolled_back_action_leaves_no_row_and_no_hole(self, db: AsyncSession) -> None:
        await sealed_rows(db, 2)
        with pytest.raises(RuntimeError):
            async with db.begin_nested():
                db.add(AuditEvent(actor_roles=[], action="test.rolled", outcome="allowed"))
                await db.flush()
                raise RuntimeError("the action failed")
        await sealed_rows(db, 2, action="test.after")
        assert await db.scalar(select(func.count()).where(table.c.action == "test.rolled")) == 0
        assert (await verify(db)).ok

    async def test_denials_are_chained_too(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        police = await make_actor("police")
        r = await client.get("/api/v1/audit/events", headers=police.headers)
        assert r.status_code == 403
        await seal(db)
        row = (
            (await db.execute(select(table).where(table.c.request_id == r.headers["x-request-id"])))
            .mappings()
            .one()
        )
        assert row["outcome"] == "denied" and row["chain_seq"] is not None
        assert (await verify(db)).ok


class TestTamperingIsDetected:
    async def test_edited_row(self, db: AsyncSession) -> None:
        ids = await sealed_rows(db)
        await drop_guard(db)
        await sql(
            db,
            "UPDATE audit_events SET reason = 'rewritten' WHERE id = :i",
            i=_id_param(db, uuid.UUID(ids[2])),
        )
        broken = (await verify(db)).first_broken
        assert broken is not None and broken.id == ids[2]
        assert "row_hash" in broken.reason

    async def test_edited_timestamp(self, db: AsyncSession) -> None:
        ids = await sealed_rows(db)
        await drop_guard(db)
        db.add(AuditEvent(actor_roles=[], action="x", outcome="allowed"))  # noise, unsealed
        await db.flush()
        await sql(
            db,
            "UPDATE audit_events SET occurred_at = :t WHERE id = :i",
            t=datetime(2001, 3, 1, 11, tzinfo=UTC),
            i=_id_param(db, uuid.UUID(ids[4])),
        )
        broken = (await verify(db)).first_broken
        assert broken is not None and broken.id == ids[4]

    async def test_deleted_row(self, db: AsyncSession) -> None:
        ids = await sealed_rows(db)
        await drop_guard(db)
        await sql(db, "DELETE FROM audit_events WHERE id = :i", i=_id_param(db, uuid.UUID(ids[3])))
        broken = (await verify(db)).first_broken
        assert broken is not None and broken.id == ids[4]
        assert "missing" in broken.reason

    async def test_inserted_row(self, db: AsyncSession) -> None:
        ids = await sealed_rows(db)
        k = await seq_of(db, ids[2])
        await drop_guard(db)
        await shift_tail(db, after=k, by=1)
        prev = await db.scalar(select(table.c.row_hash).where(table.c.chain_seq == k))
        forged: dict[str, Any] = {
            "id": uuid.uuid4(),
            "occurred_at": datetime(2001, 3, 1, 12, 2, 30, tzinfo=UTC),
            "actor_id": None,
            "actor_name": None,
            "actor_organisation": None,
            "actor_roles": [],
            "action": "test.forged",
            "target_type": None,
            "target_id": None,
            "outcome": "allowed",
            "reason": None,
            "purpose": None,
            "emergency_grant_id": None,
            "request_id": None,
            "client_ip": None,
        }
        row_hash = link(prev or GENESIS, canonical(forged, k + 1, "2001-03"))
        await db.execute(
            table.insert().values(
                **forged,
                chain_seq=k + 1,
                chain_period="2001-03",
                chain_version=1,
                prev_hash=prev,
                row_hash=row_hash,
            )
        )
        broken = (await verify(db)).first_broken
        assert (
            broken is not None and broken.id == ids[3]
        )  # the forged row links; its successor does not

    async def test_reordered_rows(self, db: AsyncSession) -> None:
        ids = await sealed_rows(db)
        a, b = await seq_of(db, ids[1]), await seq_of(db, ids[2])
        await drop_guard(db)
        swap = "UPDATE audit_events SET chain_seq = :to WHERE id = :i"
        await sql(db, swap, to=-1, i=_id_param(db, uuid.UUID(ids[1])))
        await sql(db, swap, to=a, i=_id_param(db, uuid.UUID(ids[2])))
        await sql(db, swap, to=b, i=_id_param(db, uuid.UUID(ids[1])))
        broken = (await verify(db)).first_broken
        assert broken is not None and broken.id == ids[2]

    async def test_a_row_outside_the_chain(self, db: AsyncSession) -> None:
        await sealed_rows(db, 2)
        stray = uuid.uuid4()
        await db.execute(
            table.insert().values(
                id=stray,
                occurred_at=datetime(2001, 3, 1, tzinfo=UTC),
                actor_roles=[],
                action="test.stray",
                outcome="allowed",
                row_hash="ab" * 32,
            )
        )
        broken = (await verify(db)).first_broken
        assert broken is not None and broken.id == str(stray)

    async def test_a_rewritten_tail_verifies_alone(self, db: AsyncSession) -> None:
        """Without a checkpoint a consistent rewrite passes: that is what checkpoints are for."""
        ids = await sealed_rows(db)
        await drop_guard(db)
        await sql(
            db,
            "UPDATE audit_events SET reason = 'rewritten' WHERE id = :i",
            i=_id_param(db, uuid.UUID(ids[2])),
        )
        await rechain_from(db, await seq_of(db, ids[2]))
        assert (await verify(db)).ok


class TestTheGuard:
    async def _one(self, db: AsyncSession) -> str:
        return (await sealed_rows(db, 1))[0]

    async def test_a_sealed_hash_cannot_be_changed(self, db: AsyncSession) -> None:
        row = await self._one(db)
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await sql(
                    db,
                    "UPDATE audit_events SET row_hash = :h WHERE id = :i",
                    h="00" * 32,
                    i=_id_param(db, uuid.UUID(row)),
                )

    async def test_sealing_cannot_carry_a_content_change(self, db: AsyncSession) -> None:
        db.add(
            AuditEvent(
                id=(pending := uuid.uuid4()),
                actor_roles=[],
                action="test.pending",
                outcome="allowed",
            )
        )
        await db.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await sql(
                    db,
                    "UPDATE audit_events SET chain_seq = 999999, chain_period = '2001-03', "
                    "chain_version = 1, prev_hash = :h, row_hash = :h, reason = 'sneaked' "
                    "WHERE id = :i",
                    h="00" * 32,
                    i=_id_param(db, pending),
                )

    async def test_half_a_seal_is_refused(self, db: AsyncSession) -> None:
        db.add(
            AuditEvent(
                id=(pending := uuid.uuid4()),
                actor_roles=[],
                action="test.pending",
                outcome="allowed",
            )
        )
        await db.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await sql(
                    db,
                    "UPDATE audit_events SET row_hash = :h WHERE id = :i",
                    h="00" * 32,
                    i=_id_param(db, pending),
                )

    async def test_delete_of_a_sealed_row_is_refused(self, db: AsyncSession) -> None:
        row = await self._one(db)
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await sql(
                    db, "DELETE FROM audit_events WHERE id = :i", i=_id_param(db, uuid.UUID(row))
                )

    async def test_retention_hook_removes_only_the_named_period(self, db: AsyncSession) -> None:
        if db.get_bind().dialect.name != "postgresql":
            pytest.skip("the session-setting hook is PostgreSQL's; SQLite re-creates the trigger")
        await sealed_rows(db, 2)
        await sealed_rows(db, 1, action="test.later")  # still 2001-03: same period
        await db.execute(text("SET LOCAL casecoord.audit_retention_period = '2001-02'"))
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await sql(db, "DELETE FROM audit_events WHERE chain_period = '2001-03'")
        await db.execute(text("SET LOCAL casecoord.audit_retention_period = '2001-03'"))
        await sql(db, "DELETE FROM audit_events WHERE chain_period = '2001-03'")
        assert await db.scalar(select(func.count()).where(table.c.chain_period == "2001-03")) == 0


class TestMalformedChainColumns:
    @pytest.mark.parametrize(
        "assignment",
        [
            "chain_period = NULL",
            "chain_version = 2",
            "prev_hash = 'not hex'",
            "row_hash = NULL",
        ],
    )
    async def test_is_a_broken_row_not_a_crash(self, db: AsyncSession, assignment: str) -> None:
        ids = await sealed_rows(db, 3)
        await drop_guard(db)
        await sql(
            db,
            f"UPDATE audit_events SET {assignment} WHERE id = :i",  # noqa: S608 (fixed list)
            i=_id_param(db, uuid.UUID(ids[1])),
        )
        for period in (None, "2001-03"):
            broken = (await verify(db, period=period)).first_broken
            assert broken is not None and broken.id == ids[1], assignment

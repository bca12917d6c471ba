"""POST /api/v1/audit/verify: auditors only; names the first broken row as JSON."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import table
from app.auth.principal import Role
from tests.audit.chain_helpers import _id_param, drop_guard, sealed_rows, sql
from tests.problems import assert_problem

VERIFY = "/api/v1/audit/verify"
NON_AUDITORS = [r.value for r in Role if r is not Role.AUDITOR]


class TestVerifyEndpoint:
    async def test_auditor_gets_an_ok_chain(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        await sealed_rows(db, 4)
        r = await client.post(VERIFY, json={"period": "2001-03"}, headers=auditor.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True and body["first_broken"] is None
        assert body["period"] == "2001-03" and body["rows"] == 4
        head = await db.scalar(
            select(table.c.row_hash).where(table.c.chain_seq == body["head_seq"])
        )
        assert body["head_hash"] == head

    async def test_an_empty_period_verifies_nothing(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        await sealed_rows(db, 2)
        r = await client.post(VERIFY, json={"period": "2999-01"}, headers=auditor.headers)
        assert r.status_code == 200, r.text
        assert (r.json()["ok"], r.json()["rows"]) == (True, 0)

    async def test_whole_chain_without_a_body(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        await sealed_rows(db, 2)
        r = await client.post(VERIFY, headers=auditor.headers)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["rows"] >= 2

    async def test_a_broken_row_is_named(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        ids = await sealed_rows(db, 4)
        await drop_guard(db)
        await sql(
            db,
            "UPDATE audit_events SET target_id = 'elsewhere' WHERE id = :i",
            i=_id_param(db, uuid.UUID(ids[1])),
        )
        r = await client.post(VERIFY, json={"period": "2001-03"}, headers=auditor.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is False
        assert body["first_broken"]["id"] == ids[1]
        assert "row_hash" in body["first_broken"]["reason"]

    async def test_the_verification_is_audited(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        r = await client.post(VERIFY, headers=auditor.headers)
        assert r.status_code == 200
        action = await db.scalar(
            select(table.c.action).where(table.c.request_id == r.headers["x-request-id"])
        )
        assert action == "audit.chain.verified"

    @pytest.mark.parametrize("period", ["2001-13", "2001-3", "last month"])
    async def test_malformed_period_gets_422(
        self, client: httpx.AsyncClient, make_actor: Any, period: str
    ) -> None:
        auditor = await make_actor("auditor")
        r = await client.post(VERIFY, json={"period": period}, headers=auditor.headers)
        assert_problem(r, 422)

    @pytest.mark.parametrize("role", NON_AUDITORS)
    async def test_every_other_role_gets_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await make_actor(role, scope="me.read audit.verify")
        r = await client.post(VERIFY, json={}, headers=actor.headers)
        body = assert_problem(r, 403)
        assert "ok" not in body

    async def test_anonymous_gets_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.post(VERIFY, json={}), 401)

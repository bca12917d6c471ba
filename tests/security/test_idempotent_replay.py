"""An Idempotency-Key replay re-reads what the first request created, as of now.

The store keeps no response body (issue 11 part 3): a replay goes through the
route's normal readable path, so it shows current data, and it is a 404
(audited like any not-visible read) once the caller lost access. On PostgreSQL
when ``CASECOORD_TEST_DATABASE_URL`` is set, else on SQLite.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

import app as app_package
from app.audit.models import AuditEvent
from app.cases.models import CaseMember
from app.platform.db import utcnow
from tests.plans.factories import MarakCase
from tests.problems import assert_problem
from tests.world import World

API = "/api/v1"
SAFE = {"safe_times": "Weekdays 9-11 only", "feared_persons": "The ex-partner's brother"}


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def replays(db: AsyncSession, target_id: str) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "idempotency.replayed", AuditEvent.target_id == target_id
        )
    )
    return list(rows.all())


async def lose_membership(db: AsyncSession, case_id: Any, user_id: Any) -> None:
    await db.execute(
        update(CaseMember)
        .where(CaseMember.case_id == case_id, CaseMember.user_id == user_id)
        .values(removed_at=utcnow())
    )
    await db.commit()


class TestCurrentData:
    async def test_a_case_replay_shows_the_case_as_it_is_now(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        body = {"team_id": str(world.marak.id), "summary": "As first written."}
        h = keyed(world.police.headers, "now-1")
        first = await client.post(f"{API}/cases", json=body, headers=h)
        assert first.status_code == 201, first.text
        url = first.headers["location"]
        changed = await client.patch(
            url,
            json={"summary": "Changed since."},
            headers={**world.police.headers, "If-Match": first.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text
        again = await client.post(f"{API}/cases", json=body, headers=h)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["summary"] == "Changed since."
        assert again.headers["etag"] == changed.headers["etag"] != first.headers["etag"]
        assert again.headers["location"] == url
        assert [e.outcome for e in await replays(db, first.json()["id"])] == ["allowed"]

    async def test_a_plan_replay_shows_the_current_safe_contact(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        body = {"summary": "Safety first.", "safe_contact": SAFE}
        h = keyed(world.police.headers, "plan-now")
        url = f"{API}/cases/{marak.case.id}/plan"
        first = await client.post(url, json=body, headers=h)
        assert first.status_code == 201, first.text
        newer = {**SAFE, "safe_times": "Evenings now"}
        changed = await client.patch(
            url,
            json={"safe_contact": newer},
            headers={**world.police.headers, "If-Match": first.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text
        again = await client.post(url, json=body, headers=h)
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == (await client.get(url, headers=world.police.headers)).json()
        assert "Evenings now" in again.text and "Weekdays 9-11" not in again.text


class TestLostAccess:
    async def test_a_case_replay_after_losing_access_is_404_and_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        body = {"team_id": str(world.marak.id), "summary": "Opened, then left."}
        h = keyed(world.police.headers, "gone-1")
        first = await client.post(f"{API}/cases", json=body, headers=h)
        assert first.status_code == 201, first.text
        case_id = first.json()["id"]
        await lose_membership(db, uuid.UUID(case_id), world.police.id)
        again = await client.post(f"{API}/cases", json=body, headers=h)
        assert_problem(again, 404)
        assert "Opened, then left." not in again.text
        assert "idempotent-replayed" not in again.headers
        denied = await db.scalars(
            select(AuditEvent).where(
                AuditEvent.target_id == case_id, AuditEvent.outcome == "denied"
            )
        )
        assert denied.all(), "the refused replay is audited like any not-visible read"
        assert await replays(db, case_id) == []

    async def test_a_person_replay_after_losing_access_is_404(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        body = {
            "case_id": str(marak.case.id),
            "role": "other",
            "person": {"given_name": "Ville", "family_name": "Valo"},
        }
        h = keyed(world.social_worker.headers, "gone-2")
        first = await client.post(f"{API}/persons", json=body, headers=h)
        assert first.status_code == 201, first.text
        same = await client.post(f"{API}/persons", json=body, headers=h)
        assert same.status_code == 201 and same.json() == first.json()
        await lose_membership(db, marak.case.id, world.social_worker.id)
        assert_problem(await client.post(f"{API}/persons", json=body, headers=h), 404)

    async def test_a_plan_replay_after_losing_access_is_404(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        h = keyed(world.social_worker.headers, "gone-3")
        url = f"{API}/cases/{marak.case.id}/plan"
        body = {"summary": "Safety first.", "safe_contact": SAFE}
        assert (await client.post(url, json=body, headers=h)).status_code == 201
        await lose_membership(db, marak.case.id, world.social_worker.id)
        again = await client.post(url, json=body, headers=h)
        assert_problem(again, 404)
        assert SAFE["feared_persons"] not in again.text


class TestStore:
    async def test_another_body_with_the_same_key_is_422(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        h = keyed(world.police.headers, "plan-422")
        url = f"{API}/cases/{marak.case.id}/plan"
        assert (await client.post(url, json={"summary": "One."}, headers=h)).status_code == 201
        other = assert_problem(await client.post(url, json={"summary": "Two."}, headers=h), 422)
        assert other["errors"][0]["field"] == "Idempotency-Key"

    async def test_the_store_has_no_body_column_and_holds_no_text_of_the_response(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        url = f"{API}/cases/{marak.case.id}/plan"
        body = {"summary": "Summary canary 7X", "safe_contact": SAFE}
        r = await client.post(url, json=body, headers=keyed(world.police.headers, "plan-store"))
        assert r.status_code == 201, r.text
        columns = await db.run_sync(
            lambda s: {c["name"] for c in inspect(s.connection()).get_columns("idempotency_keys")}
        )
        assert not {c for c in columns if "body" in c}, columns
        assert columns == {
            "id", "user_id", "key", "fingerprint", "response_status", "response_headers",
            "target_type", "target_id", "created_at", "expires_at",
        }  # fmt: skip
        rows = (await db.execute(text("SELECT * FROM idempotency_keys"))).all()
        stored = "\n".join(str(v) for row in rows for v in row)
        assert "plan-store" in stored
        for leaked in ("Summary canary 7X", SAFE["safe_times"], SAFE["feared_persons"], "Aino"):
            assert leaked not in stored


def test_every_route_taking_an_idempotency_key_goes_through_create_once(app: Any) -> None:
    """The class fix: no route spells out begin/complete (and could store a body) itself."""
    documented = [
        (path, method)
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    ]
    taking = 0
    for module in sorted(Path(app_package.__file__).parent.rglob("*.py")):
        source = module.read_text(encoding="utf-8")
        params = source.count("idempotency: Idempotency,")
        taking += params
        # create_versioned is create_once for a versioned object read back as it is
        through = source.count("create_once(") + source.count("create_versioned(")
        assert through >= params, f"{module} bypasses create_once"
        if module.name not in ("idempotency.py", "dependencies.py"):
            assert ".begin(session" not in source, module
            assert ".complete(session" not in source, module
    assert taking == len(documented) >= 18, (taking, documented)

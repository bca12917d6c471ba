"""Idempotency-Key on creates: replay, conflicting reuse, per-user scope, expiry."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.platform.db import utcnow
from app.platform.idempotency import IdempotencyRecord
from tests.cases.factories import make_case
from tests.problems import assert_problem
from tests.world import World


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


class TestCreateCase:
    async def test_replay_returns_the_first_response_and_creates_nothing(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        body = {"team_id": str(world.marak.id), "summary": "Once."}
        h = keyed(world.police.headers, "k-1")
        first = await client.post("/api/v1/cases", json=body, headers=h)
        second = await client.post("/api/v1/cases", json=body, headers=h)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["etag"] == first.headers["etag"]
        assert second.headers["location"] == first.headers["location"]
        assert second.headers["idempotent-replayed"] == "true"
        listed = await client.get("/api/v1/cases", headers=world.police.headers)
        assert len(listed.json()["items"]) == 1
        replays = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "idempotency.replayed",
                    AuditEvent.actor_id == world.police.id,  # the log outlives other tests' rows
                )
            )
        ).all()
        assert [e.target_id for e in replays] == [first.json()["id"]]

    async def test_same_key_with_another_body_is_422(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        h = keyed(world.police.headers, "k-2")
        r = await client.post("/api/v1/cases", json={"team_id": str(world.marak.id)}, headers=h)
        assert r.status_code == 201
        other = await client.post(
            "/api/v1/cases", json={"team_id": str(world.marak.id), "summary": "Other."}, headers=h
        )
        body = assert_problem(other, 422)
        assert body["errors"][0]["field"] == "Idempotency-Key"

    async def test_keys_are_scoped_per_user(self, client: httpx.AsyncClient, world: World) -> None:
        a = await client.post(
            "/api/v1/cases",
            json={"team_id": str(world.marak.id)},
            headers=keyed(world.police.headers, "shared"),
        )
        b = await client.post(
            "/api/v1/cases",
            json={"team_id": str(world.marak.id)},
            headers=keyed(world.social_worker.headers, "shared"),
        )
        assert a.status_code == b.status_code == 201
        assert a.json()["id"] != b.json()["id"]

    async def test_without_a_key_each_post_creates(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        body = {"team_id": str(world.marak.id)}
        a = await client.post("/api/v1/cases", json=body, headers=world.police.headers)
        b = await client.post("/api/v1/cases", json=body, headers=world.police.headers)
        assert a.json()["id"] != b.json()["id"]

    async def test_a_failed_request_stores_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        h = keyed(world.outsider_police.headers, "k-3")
        body = {"team_id": str(world.marak.id)}
        assert_problem(await client.post("/api/v1/cases", json=body, headers=h), 403)
        assert_problem(await client.post("/api/v1/cases", json=body, headers=h), 403)

    async def test_an_expired_key_starts_afresh(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        body = {"team_id": str(world.marak.id)}
        h = keyed(world.police.headers, "k-4")
        first = await client.post("/api/v1/cases", json=body, headers=h)
        await db.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "k-4")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
        again = await client.post("/api/v1/cases", json=body, headers=h)
        assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
        assert "idempotent-replayed" not in again.headers

    async def test_malformed_key_is_422(self, client: httpx.AsyncClient, world: World) -> None:
        r = await client.post(
            "/api/v1/cases",
            json={"team_id": str(world.marak.id)},
            headers=keyed(world.police.headers, "x" * 300),
        )
        assert_problem(r, 422)


class TestNestedCreates:
    async def test_notes_participants_and_members_replay(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        base = f"/api/v1/cases/{case.id}"
        probes = [
            ("/notes", {"text": "Once only.", "kind": "fact"}),
            (
                "/participants",
                {"role": "victim", "person": {"given_name": "A", "family_name": "B"}},
            ),
            ("/members", {"user_id": str(world.health.id)}),
        ]
        for path, body in probes:
            h = keyed(world.police.headers, f"nested{path}")
            first = await client.post(base + path, json=body, headers=h)
            second = await client.post(base + path, json=body, headers=h)
            assert first.status_code == second.status_code == 201, (path, second.text)
            assert first.json() == second.json()
        # the same key on another path is another request
        h = keyed(world.police.headers, "nested/notes")
        other = await client.post(base + "/participants", json=probes[1][1], headers=h)
        assert_problem(other, 422)
        notes = (await client.get(base + "/notes", headers=world.police.headers)).json()["items"]
        assert len(notes) == 1

    async def test_replay_still_needs_access_to_the_case(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        h = keyed(world.police.headers, "k-5")
        body = {"text": "x", "kind": "fact"}
        assert (
            await client.post(f"/api/v1/cases/{case.id}/notes", json=body, headers=h)
        ).status_code == 201
        h2 = keyed(world.health.headers, "k-5")
        assert_problem(
            await client.post(f"/api/v1/cases/{case.id}/notes", json=body, headers=h2), 404
        )

"""The access log: only auditors read it, every call leaves exactly one row, rows are immutable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from tests.audit.factories import rows_by, seed_events
from tests.problems import assert_problem
from tests.world import TokenFactory, denied

EVENTS = "/api/v1/audit/events"
NON_AUDITORS = denied(Action.AUDIT_READ)


class TestListAuditEvents:
    async def test_auditor_reads_the_log(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        seeded = await seed_events(db)
        r = await client.get(EVENTS, params={"action": "test.seeded"}, headers=auditor.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [e["id"] for e in body["items"]] == [str(e.id) for e in reversed(seeded)]
        assert body["next_cursor"] is None
        first = body["items"][0]
        assert first["outcome"] == "allowed"
        assert first["occurred_at"].startswith("2001-03-05T12:00:00")

    @pytest.mark.parametrize("role", NON_AUDITORS)
    async def test_non_auditor_gets_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        # An integration client may not read it even with the action in its scopes.
        actor = await make_actor(role, scope="me.read audit.read")
        r = await client.get(EVENTS, headers=actor.headers)
        body = assert_problem(r, 403)
        assert "items" not in body

    async def test_auditor_with_other_roles_still_reads(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("auditor", "admin")
        assert (await client.get(EVENTS, headers=actor.headers)).status_code == 200

    async def test_anonymous_gets_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get(EVENTS)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")


class TestAuditFilters:
    async def test_filter_by_actor(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        actor_id = uuid.uuid4()
        mine = await seed_events(db, actor_id=actor_id)
        await seed_events(db, actor_id=uuid.uuid4())
        r = await client.get(EVENTS, params={"actor_id": str(actor_id)}, headers=auditor.headers)
        assert r.status_code == 200
        assert {e["id"] for e in r.json()["items"]} == {str(e.id) for e in mine}

    async def test_filter_by_action_exact_and_family(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        read = await seed_events(db, action="probe.thing.read")
        changed = await seed_events(db, action="probe.thing.changed")
        await seed_events(db, action="probex.other")

        exact = await client.get(
            EVENTS, params={"action": "probe.thing.read"}, headers=auditor.headers
        )
        assert {e["id"] for e in exact.json()["items"]} == {str(e.id) for e in read}

        family = await client.get(EVENTS, params={"action": "probe."}, headers=auditor.headers)
        assert {e["id"] for e in family.json()["items"]} == {str(e.id) for e in read + changed}

    async def test_family_filter_treats_wildcards_literally(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        await seed_events(db, action="probe.thing.read")
        r = await client.get(EVENTS, params={"action": "pro%."}, headers=auditor.headers)
        assert r.status_code == 200
        assert r.json()["items"] == []

    async def test_filter_by_target(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        target = str(uuid.uuid4())
        hit = await seed_events(db, target_type="case", target_id=target)
        await seed_events(db, target_type="person", target_id=target)
        await seed_events(db, target_type="case", target_id=str(uuid.uuid4()))

        r = await client.get(
            EVENTS, params={"target_type": "case", "target_id": target}, headers=auditor.headers
        )
        assert {e["id"] for e in r.json()["items"]} == {str(e.id) for e in hit}
        assert all(
            (e["target_type"], e["target_id"]) == ("case", target) for e in r.json()["items"]
        )

    async def test_filter_by_time_window(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        seeded = await seed_events(db)  # 2001-03-01 .. 2001-03-05 at 12:00 UTC
        r = await client.get(
            EVENTS,
            params={
                "action": "test.seeded",
                # The same instants in another offset must select the same rows.
                "since": "2001-03-02T14:00:00+02:00",
                "until": "2001-03-04T12:00:00Z",
            },
            headers=auditor.headers,
        )
        assert r.status_code == 200, r.text
        assert [e["id"] for e in r.json()["items"]] == [str(seeded[2].id), str(seeded[1].id)]

    async def test_naive_timestamp_gets_422(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        auditor = await make_actor("auditor")
        r = await client.get(
            EVENTS, params={"since": "2001-03-02T12:00:00"}, headers=auditor.headers
        )
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["query.since"]


class TestAuditPaging:
    async def test_keyset_pages_cover_everything_once_newest_first(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        seeded = await seed_events(db)
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"action": "test.seeded", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = await client.get(EVENTS, params=params, headers=auditor.headers)
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["items"]) <= 2
            seen += [e["id"] for e in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == [str(e.id) for e in reversed(seeded)]

    async def test_rows_with_the_same_time_are_not_skipped(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor")
        moment = datetime(2002, 1, 1, tzinfo=UTC)
        rows = [
            AuditEvent(
                id=uuid.uuid4(),
                occurred_at=moment,
                actor_roles=[],
                action="test.tied",
                outcome="allowed",
            )
            for _ in range(3)
        ]
        db.add_all(rows)
        await db.commit()
        first = (
            await client.get(
                EVENTS, params={"action": "test.tied", "limit": 2}, headers=auditor.headers
            )
        ).json()
        second = (
            await client.get(
                EVENTS,
                params={"action": "test.tied", "limit": 2, "cursor": first["next_cursor"]},
                headers=auditor.headers,
            )
        ).json()
        ids = [e["id"] for e in first["items"] + second["items"]]
        assert sorted(ids) == sorted(str(r.id) for r in rows)
        assert second["next_cursor"] is None

    @pytest.mark.parametrize("limit", [0, 101])
    async def test_limit_out_of_range_gets_422(
        self, client: httpx.AsyncClient, make_actor: Any, limit: int
    ) -> None:
        auditor = await make_actor("auditor")
        r = await client.get(EVENTS, params={"limit": limit}, headers=auditor.headers)
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["query.limit"]

    async def test_limit_100_is_allowed(self, client: httpx.AsyncClient, make_actor: Any) -> None:
        auditor = await make_actor("auditor")
        r = await client.get(EVENTS, params={"limit": 100}, headers=auditor.headers)
        assert r.status_code == 200

    async def test_forged_cursor_gets_422(self, client: httpx.AsyncClient, make_actor: Any) -> None:
        auditor = await make_actor("auditor")
        r = await client.get(EVENTS, params={"cursor": "not-a-cursor"}, headers=auditor.headers)
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "cursor"


class TestAuditTrailOfCalls:
    async def test_successful_call_leaves_exactly_one_allowed_row(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        auditor = await make_actor("auditor", org="dpo-office")
        assert await rows_by(db, auditor.id) == []
        r = await client.get(EVENTS, headers=auditor.headers)
        assert r.status_code == 200

        rows = await rows_by(db, auditor.id)
        assert len(rows) == 1
        row = rows[0]
        assert (row.action, row.outcome, row.target_type) == (
            "audit.events.read",
            "allowed",
            "audit_log",
        )
        assert row.actor_organisation == "dpo-office"
        assert row.actor_roles == ["auditor"]
        assert row.actor_name == f"Test {auditor.sub}"
        assert row.request_id == r.headers["x-request-id"]
        assert row.occurred_at.tzinfo is not None

    async def test_denied_call_leaves_exactly_one_denied_row(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        police = await make_actor("police")
        r = await client.get(EVENTS, headers=police.headers)
        assert r.status_code == 403

        rows = await rows_by(db, police.id)
        assert len(rows) == 1
        row = rows[0]
        assert (row.action, row.outcome) == ("audit.read", "denied")
        assert row.reason == "403:role"
        assert row.actor_roles == ["police"]
        assert row.request_id == r.headers["x-request-id"]

    async def test_first_call_denied_still_names_a_registered_user(
        self, client: httpx.AsyncClient, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        """A newcomer whose very first call is refused is still registered.

        Otherwise the denial row would carry the id of a user row that was
        rolled back, and nothing could tie it to the person's later activity.
        """
        token = tokens.mint("first-timer", ["police"], "org-new")
        headers = {"Authorization": f"Bearer {token}"}
        denied = await client.get(EVENTS, headers=headers)
        assert denied.status_code == 403
        row = await db.scalar(
            select(AuditEvent).where(
                AuditEvent.request_id == denied.headers["x-request-id"],
                AuditEvent.outcome == "denied",
            )
        )
        assert row is not None and row.action == "audit.read"

        me = await client.get("/api/v1/me", headers=headers)
        assert me.status_code == 200
        assert row.actor_id == uuid.UUID(me.json()["id"])
        registered = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "directory.user.registered",
                    AuditEvent.target_id == me.json()["id"],
                )
            )
        ).all()
        assert len(registered) == 1

    async def test_denial_is_visible_to_the_auditor(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        police = await make_actor("police")
        auditor = await make_actor("auditor")
        await client.get(EVENTS, headers=police.headers)
        r = await client.get(
            EVENTS,
            params={"actor_id": str(police.id), "action": "audit.read"},
            headers=auditor.headers,
        )
        [event] = r.json()["items"]
        assert event["outcome"] == "denied"

    async def test_rows_carry_no_personal_data_payload(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        canary = f"Payload-Canary-{uuid.uuid4().hex[:8]}"
        admin = await make_actor("admin")
        created = await client.post(
            "/api/v1/organisations",
            json={"code": "canary-org", "name": canary, "kind": "ngo"},
            headers=admin.headers,
        )
        assert created.status_code == 201
        await client.patch(
            f"/api/v1/organisations/{created.json()['id']}",
            json={"name": canary + "-renamed"},
            headers={**admin.headers, "If-Match": created.headers["etag"]},
        )
        await client.post(
            "/api/v1/teams",
            json={
                "name": canary,
                "kind": "marak",
                "organisation_id": str(admin.org_id),
                "area": canary,
            },
            headers=admin.headers,
        )
        rows = (await db.scalars(select(AuditEvent))).all()
        assert {
            "directory.organisation.created",
            "directory.organisation.updated",
            "directory.team.created",
        } <= {r.action for r in rows}
        for row in rows:
            values = [str(getattr(row, c.key)) for c in AuditEvent.__table__.columns]
            assert not any(canary in v for v in values), row.action

"""Break the glass: who may, for how long, and that every access is tagged."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case, EmergencyGrant
from app.platform.db import utcnow
from tests.cases.factories import add_grant, make_case
from tests.problems import assert_problem
from tests.world import World, with_etag

REASON = "Caller reports the perpetrator is outside the shelter right now."


def url(case: Case) -> str:
    return f"/api/v1/cases/{case.id}/emergency-access"


async def grant(client: httpx.AsyncClient, world: World, case: Case) -> dict[str, str]:
    r = await client.post(url(case), json={"reason": REASON}, headers=world.outsider_police.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


class TestRequest:
    async def test_grant_is_60_minutes_read_only_and_audited_as_an_override(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        g = await grant(client, world, case)
        row = await db.get(EmergencyGrant, uuid.UUID(g["id"]))
        assert row is not None
        assert abs((row.expires_at - row.created_at) - timedelta(minutes=60)) < timedelta(seconds=5)
        assert g["active"] is True and g["role"] == "police"
        event = await db.scalar(
            select(AuditEvent).where(AuditEvent.action == "case.emergency_access.granted")
        )
        assert event is not None
        assert event.target_id == str(case.id) and event.emergency_grant_id == row.id
        assert REASON not in str(vars(event))
        r = await client.get(f"/api/v1/cases/{case.id}", headers=world.outsider_police.headers)
        assert (
            r.status_code == 200
            and r.json()["access"] == "emergency"
            and r.json()["my_role"] is None
        )
        listed = await client.get("/api/v1/cases", headers=world.outsider_police.headers)
        assert [(i["id"], i["access"]) for i in listed.json()["items"]] == [
            (str(case.id), "emergency")
        ]
        patch = await client.patch(
            f"/api/v1/cases/{case.id}",
            json={"summary": "x"},
            headers=with_etag(world.outsider_police, '"1"'),
        )
        assert_problem(patch, 403)

    async def test_reason_is_mandatory_and_at_least_20_characters(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        h = world.outsider_police.headers
        assert_problem(await client.post(url(case), json={}, headers=h), 422)
        assert_problem(await client.post(url(case), json={"reason": "too short"}, headers=h), 422)
        assert_problem(await client.post(url(case), json={"reason": " " * 30}, headers=h), 422)
        assert (await client.get(f"/api/v1/cases/{case.id}", headers=h)).status_code == 404

    async def test_only_police_social_and_health_workers(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        for actor in (world.advocate, world.coordinator, world.auditor):
            assert_problem(
                await client.post(url(case), json={"reason": REASON}, headers=actor.headers), 403
            )

    async def test_hah_stays_invisible_to_non_police(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.hah, world.police)
        await db.commit()
        r = await client.post(url(case), json={"reason": REASON}, headers=world.health.headers)
        assert_problem(r, 404)
        assert (await grant(client, world, case))["case_id"] == str(case.id)

    async def test_members_and_holders_get_409_unknown_case_404(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        assert_problem(
            await client.post(url(case), json={"reason": REASON}, headers=world.police.headers), 409
        )
        await grant(client, world, case)
        h = world.outsider_police.headers
        assert_problem(await client.post(url(case), json={"reason": REASON}, headers=h), 409)
        r = await client.post(
            "/api/v1/cases/00000000-0000-4000-8000-000000000000/emergency-access",
            json={"reason": REASON},
            headers=h,
        )
        assert_problem(r, 404)


class TestExpiry:
    async def test_access_ends_when_the_grant_expires(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        g = await grant(client, world, case)
        h = world.outsider_police.headers
        assert (await client.get(f"/api/v1/cases/{case.id}", headers=h)).status_code == 200
        row = await db.get(EmergencyGrant, uuid.UUID(g["id"]))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        await db.commit()
        assert_problem(await client.get(f"/api/v1/cases/{case.id}", headers=h), 404)
        assert_problem(await client.get(f"/api/v1/cases/{case.id}/notes", headers=h), 404)
        listed = await client.get("/api/v1/cases", headers=h)
        assert listed.json()["items"] == []
        # A new grant may be taken after expiry.
        assert (await client.post(url(case), json={"reason": REASON}, headers=h)).status_code == 201


class TestTagging:
    async def test_every_access_under_the_grant_carries_its_id(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        g = await grant(client, world, case)
        h = world.outsider_police.headers
        for path in ("", "/notes", "/participants", "/members", "/transitions"):
            assert (
                await client.get(f"/api/v1/cases/{case.id}{path}", headers=h)
            ).status_code == 200
        await client.post(
            f"/api/v1/cases/{case.id}/notes", json={"text": "x", "kind": "fact"}, headers=h
        )
        rows = (
            await db.scalars(
                select(AuditEvent).where(AuditEvent.actor_id == world.outsider_police.id)
            )
        ).all()
        case_rows = [
            e
            for e in rows
            if e.action.startswith("case.") and e.action != "case.emergency_access.request"
        ]
        assert len(case_rows) >= 7
        assert {str(e.emergency_grant_id) for e in case_rows} == {g["id"]}
        assert any(e.outcome == "denied" for e in case_rows)  # the refused write is tagged too
        member_rows = (
            await db.scalars(select(AuditEvent).where(AuditEvent.actor_id == world.police.id))
        ).all()
        assert all(e.emergency_grant_id is None for e in member_rows)


class TestLeadsAndAuditors:
    async def test_leads_see_grants_on_the_case_members_do_not(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        from tests.cases.factories import add_member

        case = await make_case(db, world.marak, world.police)
        await add_member(db, case, world.health)
        await db.commit()
        g = await grant(client, world, case)
        r = await client.get(url(case), headers=world.police.headers)
        assert [x["id"] for x in r.json()] == [g["id"]] and r.json()[0]["reason"] == REASON
        assert_problem(await client.get(url(case), headers=world.health.headers), 403)
        assert_problem(await client.get(url(case), headers=world.outsider_police.headers), 403)
        assert_problem(await client.get(url(case), headers=world.social_worker.headers), 404)

    async def test_auditor_reviews_the_queue(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        pending = await add_grant(db, case, world.outsider_police)
        await db.commit()
        h = world.auditor.headers
        queue = await client.get(
            "/api/v1/emergency-access", params={"reviewed": "false"}, headers=h
        )
        assert str(pending.id) in {x["id"] for x in queue.json()["items"]}
        one = await client.get(f"/api/v1/emergency-access/{pending.id}", headers=h)
        assert one.status_code == 200
        review = f"/api/v1/emergency-access/{pending.id}/review"
        assert_problem(await client.post(review, json={"finding": "justified"}, headers=h), 428)
        r = await client.post(
            review,
            json={"finding": "justified", "note": "Call log matches."},
            headers={**h, "If-Match": one.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        assert (
            r.json()["reviewed_by"] == str(world.auditor.id)
            and r.json()["review_finding"] == "justified"
        )
        again = await client.post(
            review, json={"finding": "justified"}, headers={**h, "If-Match": r.headers["etag"]}
        )
        assert_problem(again, 409)
        queue = await client.get(
            "/api/v1/emergency-access", params={"reviewed": "false"}, headers=h
        )
        assert str(pending.id) not in {x["id"] for x in queue.json()["items"]}
        assert_problem(await client.get(f"/api/v1/emergency-access/{uuid.uuid4()}", headers=h), 404)

    async def test_professionals_cannot_reach_the_review_queue(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        assert_problem(
            await client.get("/api/v1/emergency-access", headers=world.police.headers), 403
        )

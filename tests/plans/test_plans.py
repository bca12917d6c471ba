"""Plans and versions: drafting, agreeing (freeze), revising, safe contact."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.plans.models import PlanVersion
from tests.cases.factories import add_grant
from tests.plans.factories import MarakCase, agree, api_measure, api_plan, plan_etag
from tests.world import World, open_case

SAFE = {
    "number_is_safe": False,
    "safe_number": "050 765 4321",
    "safe_times": "Weekdays 9-11",
    "feared_persons": "Ex-partner Pertti",
    "safe_to_talk_to": ["Sister Laura"],
    "not_safe_to_talk_to": ["Mother-in-law"],
}


class TestCreateAndRead:
    async def test_member_starts_a_draft_of_the_schemes_kind(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        body = await api_plan(client, world.social_worker, marak.case.id, summary="Stay safe.")
        assert body["kind"] == "safety_plan"
        assert body["current"]["status"] == "draft"
        assert body["current"]["number"] == 1

    async def test_second_plan_is_a_conflict(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        await api_plan(client, world.police, marak.case.id)
        r = await client.post(
            f"/api/v1/cases/{marak.case.id}/plan", json={}, headers=world.police.headers
        )
        assert r.status_code == 409

    async def test_emergency_holder_reads_but_cannot_write(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        await api_plan(client, world.police, marak.case.id, safe_contact=SAFE)
        await add_grant(db, marak.case, world.outsider_police)
        await db.commit()
        r = await client.get(
            f"/api/v1/cases/{marak.case.id}/plan", headers=world.outsider_police.headers
        )
        assert r.status_code == 200
        assert r.json()["current"]["safe_contact"] is None
        assert r.json()["current"]["safe_contact_withheld"] is True
        r = await client.post(
            f"/api/v1/cases/{marak.case.id}/plan/measures",
            json={
                "category": "other",
                "description": "x",
                "responsible_organisation_id": str(world.org.id),
            },
            headers=world.outsider_police.headers,
        )
        assert r.status_code == 403

    async def test_plan_without_one_is_404(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        r = await client.get(f"/api/v1/cases/{marak.case.id}/plan", headers=world.police.headers)
        assert r.status_code == 404

    async def test_hah_plan_has_no_safe_contact_section(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.hah)
        r = await client.post(
            f"/api/v1/cases/{case['id']}/plan",
            json={"safe_contact": SAFE},
            headers=world.police.headers,
        )
        assert r.status_code == 422
        body = await api_plan(client, world.police, case["id"])
        assert body["kind"] == "risk_management_plan"


class TestSafeContact:
    async def test_sealed_at_rest_and_shown_to_roles_that_need_it(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        await api_plan(client, world.police, marak.case.id, safe_contact=SAFE)
        raw = (await db.execute(text("SELECT safe_contact_enc FROM plan_versions"))).all()
        assert raw and all("Laura" not in str(row[0]) for row in raw)
        mine = await client.get(
            f"/api/v1/cases/{marak.case.id}/plan", headers=world.advocate.headers
        )
        assert mine.json()["current"]["safe_contact"]["safe_to_talk_to"] == ["Sister Laura"]
        # A health worker from another organisation than the case's owner: withheld.
        health = await client.get(
            f"/api/v1/cases/{marak.case.id}/plan", headers=world.health.headers
        )
        assert health.json()["current"]["safe_contact"] is None
        assert health.json()["current"]["safe_contact_withheld"] is True


class TestVersionFreeze:
    async def test_agreed_plan_cannot_be_edited_and_a_change_starts_a_new_draft(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid, summary="First.", safe_contact=SAFE)
        await api_measure(client, world.police, cid, world.org.id)
        r = await agree(client, world.police, cid)
        assert r.status_code == 200, r.text
        agreed = r.json()
        assert agreed["current"]["status"] == "agreed"
        assert (
            agreed["current"]["measures_snapshot"][0]["description"] == "Reserve a shelter place."
        )
        etag = r.headers["etag"]
        locked = await client.patch(
            f"/api/v1/cases/{cid}/plan",
            json={"summary": "Changed."},
            headers={**world.police.headers, "If-Match": etag},
        )
        assert locked.status_code == 409
        assert locked.json()["type"].endswith("plan-locked")
        blocked = await client.post(
            f"/api/v1/cases/{cid}/plan/measures",
            json={
                "category": "other",
                "description": "More.",
                "responsible_organisation_id": str(world.org.id),
            },
            headers=world.police.headers,
        )
        assert blocked.status_code == 409
        revised = await client.post(
            f"/api/v1/cases/{cid}/plan/revisions",
            json={"reason": "New incident; the group meets again."},
            headers={**world.police.headers, "If-Match": etag},
        )
        assert revised.status_code == 201, revised.text
        draft = revised.json()["current"]
        assert (draft["number"], draft["status"], draft["based_on_number"]) == (2, "draft", 1)
        assert draft["summary"] == "First."
        assert draft["safe_contact"]["safe_number"] == "050 765 4321"
        assert draft["revision_reason"] == "New incident; the group meets again."
        # The reason rests sealed with the draft; the audit row holds no free text.
        raw = (await db.execute(text("SELECT * FROM plan_versions"))).all()
        assert raw and not any("New incident" in str(value) for row in raw for value in row)
        purposes = (await db.scalars(select(AuditEvent.purpose))).all()
        assert not any("New incident" in (p or "") for p in purposes)
        edited = await client.patch(
            f"/api/v1/cases/{cid}/plan",
            json={"summary": "Second."},
            headers={**world.police.headers, "If-Match": revised.headers["etag"]},
        )
        assert edited.status_code == 200
        versions = await client.get(
            f"/api/v1/cases/{cid}/plan/versions", headers=world.police.headers
        )
        by_number = {v["number"]: v for v in versions.json()}
        assert by_number[1]["summary"] == "First." and by_number[1]["status"] == "agreed"
        assert by_number[2]["summary"] == "Second."
        rows = (await db.scalars(select(PlanVersion.number))).all()
        assert sorted(rows) == [1, 2]

    async def test_stale_or_missing_if_match(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        url = f"/api/v1/cases/{cid}/plan"
        r = await client.patch(url, json={"summary": "x"}, headers=world.police.headers)
        assert r.status_code == 428
        r = await client.patch(
            url, json={"summary": "x"}, headers={**world.police.headers, "If-Match": '"99"'}
        )
        assert r.status_code == 412

    async def test_only_a_lead_or_the_coordinator_agrees(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        assert (await agree(client, world.social_worker, cid)).status_code == 403
        assert (await agree(client, world.coordinator, cid)).status_code == 200

    async def test_revising_a_draft_is_a_conflict(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        etag = await plan_etag(client, world.police, cid)
        r = await client.post(
            f"/api/v1/cases/{cid}/plan/revisions",
            json={"reason": "Why not."},
            headers={**world.police.headers, "If-Match": etag},
        )
        assert r.status_code == 409

    async def test_review_sets_the_next_review(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        etag = await plan_etag(client, world.police, cid)
        r = await client.post(
            f"/api/v1/cases/{cid}/plan/review",
            json={"note": "Going well.", "next_review_at": "2030-01-01T00:00:00Z"},
            headers={**world.police.headers, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        assert r.json()["last_review_note"] == "Going well."
        case = await client.get(f"/api/v1/cases/{cid}", headers=world.police.headers)
        assert case.json()["next_review_at"].startswith("2030-01-01")


class TestIdempotencyAndMeetings:
    async def test_replayed_create_returns_the_stored_plan(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        headers = {**world.police.headers, "Idempotency-Key": "plan-create-1"}
        url = f"/api/v1/cases/{marak.case.id}/plan"
        first = await client.post(url, json={"summary": "Once."}, headers=headers)
        again = await client.post(url, json={"summary": "Once."}, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]

    async def test_agreeing_in_a_closed_meeting_is_refused(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        m = await client.post(
            "/api/v1/meetings",
            json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
            headers=world.coordinator.headers,
        )
        closed = await client.post(
            f"/api/v1/meetings/{m.json()['id']}/close",
            headers={**world.coordinator.headers, "If-Match": m.headers["etag"]},
        )
        assert closed.status_code == 200
        await api_plan(client, world.police, marak.case.id)
        r = await agree(client, world.police, marak.case.id, meeting_id=m.json()["id"])
        assert r.status_code == 409

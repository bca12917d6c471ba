"""Marak meetings: agenda, attendance, minutes isolation, freezing on close."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.directory.models import Team
from tests.cases.factories import add_grant, add_member, make_case
from tests.plans.factories import marak_case
from tests.world import Actor, TokenFactory, World, join_team, make_user


async def meeting(
    client: httpx.AsyncClient, actor: Actor, team: Team, **body: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/meetings",
        json={"team_id": str(team.id), "scheduled_at": "2030-01-15T09:00:00Z", **body},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json()) | {"etag": r.headers["etag"]}


async def on_agenda(
    client: httpx.AsyncClient, actor: Actor, meeting_id: Any, case_id: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/meetings/{meeting_id}/agenda",
        json={"case_id": str(case_id)},
        headers=actor.headers,
    )


async def minutes(
    client: httpx.AsyncClient, actor: Actor, meeting_id: Any, case_id: Any, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/meetings/{meeting_id}/minutes",
        json={"case_id": str(case_id), **body},
        headers=actor.headers,
    )


class TestMeetings:
    async def test_coordinator_arranges_monthly_and_emergency_meetings(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        m = await meeting(client, world.coordinator, world.marak)
        assert m["kind"] == "monthly" and m["chair_id"] == str(world.coordinator.id)
        e = await meeting(client, world.coordinator, world.marak, kind="emergency")
        assert e["kind"] == "emergency"
        listed = await client.get("/api/v1/meetings", headers=world.police.headers)
        assert {i["id"] for i in listed.json()["items"]} >= {m["id"], e["id"]}

    async def test_other_roles_cannot_arrange(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        r = await client.post(
            "/api/v1/meetings",
            json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
            headers=world.police.headers,
        )
        assert r.status_code == 403

    async def test_coordinator_of_another_team_is_refused(
        self, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World
    ) -> None:
        stranger = await make_user(db, tokens, world.other, "coordinator")
        await db.commit()
        r = await client.post(
            "/api/v1/meetings",
            json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
            headers=stranger.headers,
        )
        assert r.status_code == 403
        denied = await db.scalar(
            select(AuditEvent).where(
                AuditEvent.actor_id == stranger.id, AuditEvent.action == "meeting.manage"
            )
        )
        assert denied is not None and denied.outcome == "denied"
        assert (denied.target_type, denied.target_id) == ("team", str(world.marak.id))

    async def test_an_unknown_team_is_422_as_for_cases(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        r = await client.post(
            "/api/v1/meetings",
            json={
                "team_id": "00000000-0000-4000-8000-000000000000",
                "scheduled_at": "2030-01-15T09:00:00Z",
            },
            headers=world.coordinator.headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "team_id"

    async def test_outsider_does_not_see_the_meeting(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        m = await meeting(client, world.coordinator, world.marak)
        r = await client.get(f"/api/v1/meetings/{m['id']}", headers=world.outsider_police.headers)
        assert r.status_code == 404
        listed = await client.get("/api/v1/meetings", headers=world.outsider_police.headers)
        assert m["id"] not in {i["id"] for i in listed.json()["items"]}

    async def test_attendance_by_organisation(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        m = await meeting(client, world.coordinator, world.marak)
        for org in (world.org, world.social):
            r = await client.post(
                f"/api/v1/meetings/{m['id']}/attendance",
                json={"organisation_id": str(org.id)},
                headers=world.coordinator.headers,
            )
            assert r.status_code == 200
        assert {a["organisation_id"] for a in r.json()["attendance"]} == {
            str(world.org.id),
            str(world.social.id),
        }


class TestAgenda:
    async def test_adding_a_referred_case_moves_it_on_agenda(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="referred")
        m = await meeting(client, world.coordinator, world.marak)
        r = await on_agenda(client, world.coordinator, m["id"], mc.case.id)
        assert r.status_code == 201, r.text
        assert [a["case_id"] for a in r.json()["agenda"]] == [str(mc.case.id)]
        case = await client.get(f"/api/v1/cases/{mc.case.id}", headers=world.police.headers)
        assert case.json()["status"] == "on_agenda"
        again = await on_agenda(client, world.coordinator, m["id"], mc.case.id)
        assert again.status_code == 409

    async def test_without_consent_the_case_stays_off_the_agenda(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="referred", consent=False)
        m = await meeting(client, world.coordinator, world.marak)
        r = await on_agenda(client, world.coordinator, m["id"], mc.case.id)
        assert r.status_code == 422

    async def test_a_case_just_identified_cannot_go_on_the_agenda(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="identified")
        m = await meeting(client, world.coordinator, world.marak)
        assert (await on_agenda(client, world.coordinator, m["id"], mc.case.id)).status_code == 409

    async def test_a_case_the_coordinator_cannot_read_is_404(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police, status="referred")
        await db.commit()
        m = await meeting(client, world.coordinator, world.marak)
        assert (await on_agenda(client, world.coordinator, m["id"], case.id)).status_code == 404


class TestMinutes:
    async def test_isolation_between_cases_at_the_same_meeting(
        self, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World
    ) -> None:
        a = await marak_case(db, world, status="monitoring")
        b = await marak_case(db, world, status="monitoring")
        # Only in case B: a second social worker of the same team.
        only_b = await make_user(db, tokens, world.social, "social_worker")
        await join_team(db, world.marak, only_b)
        await add_member(db, b.case, only_b)
        # An emergency grant on A does not open A's minutes.
        await add_grant(db, a.case, only_b)
        await db.commit()
        m = await meeting(client, world.coordinator, world.marak)
        for mc in (a, b):
            assert (
                await on_agenda(client, world.coordinator, m["id"], mc.case.id)
            ).status_code == 201
        r = await minutes(
            client,
            world.police,
            m["id"],
            a.case.id,
            kind="shared",
            information_kind="fact",
            text="CASE-A: two call-outs in May.",
        )
        assert r.status_code == 201, r.text
        r = await minutes(
            client,
            only_b,
            m["id"],
            b.case.id,
            kind="not_shared",
            text="Health history.",
            reason="No consent to share it.",
        )
        assert r.status_code == 201, r.text
        seen = await client.get(f"/api/v1/meetings/{m['id']}/minutes", headers=only_b.headers)
        assert [e["case_id"] for e in seen.json()] == [str(b.case.id)]
        asked = await client.get(
            f"/api/v1/meetings/{m['id']}/minutes",
            params={"case_id": str(a.case.id)},
            headers=only_b.headers,
        )
        assert asked.json() == []
        agenda = await client.get(f"/api/v1/meetings/{m['id']}", headers=only_b.headers)
        assert [i["case_id"] for i in agenda.json()["agenda"]] == [str(b.case.id)]
        # Nor write into A's minutes: the emergency grant is read-only.
        r = await minutes(client, only_b, m["id"], a.case.id, kind="decision", text="Anything.")
        assert r.status_code == 403
        r = await minutes(
            client, world.outsider_police, m["id"], a.case.id, kind="decision", text="x"
        )
        assert r.status_code == 404
        both = await client.get(f"/api/v1/meetings/{m['id']}/minutes", headers=world.police.headers)
        assert {e["case_id"] for e in both.json()} == {str(a.case.id), str(b.case.id)}

    async def test_shapes_fact_opinion_and_reasons(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="monitoring")
        m = await meeting(client, world.coordinator, world.marak)
        await on_agenda(client, world.coordinator, m["id"], mc.case.id)
        bad = [
            {"kind": "shared", "text": "Unmarked."},
            {"kind": "not_shared", "text": "No reason."},
            {"kind": "action", "text": "No measure."},
            {"kind": "decision", "text": "x", "information_kind": "fact"},
        ]
        for body in bad:
            r = await minutes(client, world.police, m["id"], mc.case.id, **body)
            assert r.status_code == 422, body

    async def test_action_creates_a_plan_measure(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="monitoring")
        m = await meeting(client, world.coordinator, world.marak)
        await on_agenda(client, world.coordinator, m["id"], mc.case.id)
        r = await minutes(
            client,
            world.social_worker,
            m["id"],
            mc.case.id,
            kind="action",
            text="Social services find a shelter place.",
            measure={
                "category": "shelter",
                "description": "Find a shelter place.",
                "responsible_organisation_id": str(world.social.id),
            },
        )
        assert r.status_code == 201, r.text
        plan = await client.get(f"/api/v1/cases/{mc.case.id}/plan", headers=world.police.headers)
        assert [x["id"] for x in plan.json()["measures"]] == [r.json()["measure_id"]]

    async def test_closing_freezes_the_minutes(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="monitoring")
        m = await meeting(client, world.coordinator, world.marak)
        await on_agenda(client, world.coordinator, m["id"], mc.case.id)
        current = await client.get(f"/api/v1/meetings/{m['id']}", headers=world.coordinator.headers)
        closed = await client.post(
            f"/api/v1/meetings/{m['id']}/close",
            headers={**world.coordinator.headers, "If-Match": current.headers["etag"]},
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["closed_at"] is not None
        r = await minutes(client, world.police, m["id"], mc.case.id, kind="decision", text="Late.")
        assert r.status_code == 409
        assert r.json()["type"].endswith("minutes-frozen")


class TestRefusals:
    """Every meeting route refuses the roles and relations the policy leaves out."""

    async def test_only_the_coordinator_manages_the_meeting(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="monitoring")
        m = await meeting(client, world.coordinator, world.marak)
        base = f"/api/v1/meetings/{m['id']}"
        refused = [
            ("POST", base + "/agenda", {"case_id": str(mc.case.id)}, {}),
            ("POST", base + "/attendance", {"organisation_id": str(world.org.id)}, {}),
            ("POST", base + "/close", None, {"If-Match": m["etag"]}),
        ]
        for method, url, body, extra in refused:
            r = await client.request(
                method, url, json=body, headers={**world.police.headers, **extra}
            )
            assert r.status_code == 403, url

    async def test_roles_without_case_content_cannot_read_meetings_or_minutes(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        m = await meeting(client, world.coordinator, world.marak)
        for url in ("/api/v1/meetings", f"/api/v1/meetings/{m['id']}/minutes"):
            r = await client.get(url, headers=world.auditor.headers)
            assert r.status_code == 403, url

    async def test_minutes_of_another_teams_meeting_are_404(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        m = await meeting(client, world.coordinator, world.marak)
        r = await client.get(
            f"/api/v1/meetings/{m['id']}/minutes", headers=world.hah_police.headers
        )
        assert r.status_code == 404

    async def test_reading_a_meeting_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        m = await meeting(client, world.coordinator, world.marak)
        await client.get(f"/api/v1/meetings/{m['id']}", headers=world.police.headers)
        found = await db.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "meeting.read", AuditEvent.target_id == m["id"]
            )
        )
        assert found is not None

"""Must-not-receive is part of the one readable-cases rule, so no path forgets it.

An organisation on a case's must-not-receive list reaches the case by no route:
not as a member admitted before the entry was added, not through an emergency
grant (old or new), not through lists, searches, sub-resources or /me/tasks.
Concern screening names the case a concern went into only to its readers.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case, CaseMember
from app.platform.db import utcnow
from tests.persons.factories import record_person
from tests.persons.test_concerns import concern_body, screen, submit
from tests.problems import assert_problem
from tests.world import Actor, World, open_case, with_etag

REASON = "Night shift reports an imminent threat; I need the contacts now."


async def exclude(
    client: httpx.AsyncClient, lead: Actor, case: dict[str, Any], organisation_id: uuid.UUID
) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/cases/{case['id']}/must-not-receive",
        json={"organisation_id": str(organisation_id), "reason": "The perpetrator works there."},
        headers=lead.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def add_member(
    client: httpx.AsyncClient, lead: Actor, case: dict[str, Any], member: Actor
) -> None:
    r = await client.post(
        f"/api/v1/cases/{case['id']}/members",
        json={"user_id": str(member.id)},
        headers=lead.headers,
    )
    assert r.status_code == 201, r.text


def case_paths(case_id: str) -> list[str]:
    base = f"/api/v1/cases/{case_id}"
    return [
        base,
        f"{base}/notes",
        f"{base}/participants",
        f"{base}/members",
        f"{base}/must-not-receive",
        f"{base}/assessments",
        f"{base}/risk",
        f"{base}/plan",
        f"{base}/referrals",
    ]


async def reach(client: httpx.AsyncClient, actor: Actor, case_id: str) -> dict[str, int]:
    """The status of every case read path for this actor."""
    paths = case_paths(case_id)
    return {p: (await client.get(p, headers=actor.headers)).status_code for p in paths}


async def listed(client: httpx.AsyncClient, actor: Actor, reference: str) -> set[str]:
    page = (await client.get("/api/v1/cases", headers=actor.headers)).json()
    body = {"reference": reference}
    found = (await client.post("/api/v1/cases/search", json=body, headers=actor.headers)).json()
    return {i["id"] for i in page["items"]} | {i["id"] for i in found["items"]}


class TestMembersAdmittedBeforeTheEntry:
    async def test_lose_every_read_path_and_it_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await add_member(client, world.police, case, world.social_worker)
        person = (await record_person(client, world.police, case["id"], "victim"))["person"]
        before = await reach(client, world.social_worker, case["id"])
        assert before[f"/api/v1/cases/{case['id']}"] == 200
        assert before[f"/api/v1/cases/{case['id']}/notes"] == 200
        assert case["id"] in await listed(client, world.social_worker, case["reference"])

        entry = await exclude(client, world.police, case, world.social.id)

        after = await reach(client, world.social_worker, case["id"])
        assert set(after.values()) == {404}, after
        for path in case_paths(case["id"]):
            assert_problem(await client.get(path, headers=world.social_worker.headers), 404)
        assert case["id"] not in await listed(client, world.social_worker, case["reference"])
        r = await client.get(f"/api/v1/persons/{person['id']}", headers=world.social_worker.headers)
        assert_problem(r, 404)
        # Writing is shut too.
        r = await client.post(
            f"/api/v1/cases/{case['id']}/notes",
            json={"text": "Still here?", "kind": "fact"},
            headers=world.social_worker.headers,
        )
        assert_problem(r, 404)
        # The lead (another organisation) is unaffected.
        assert (await reach(client, world.police, case["id"]))[f"/api/v1/cases/{case['id']}"] == 200

        member_id = await db.scalar(
            select(CaseMember.id).where(
                CaseMember.case_id == uuid.UUID(case["id"]),
                CaseMember.user_id == world.social_worker.id,
            )
        )
        lost = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "case.member.access_lost",
                    AuditEvent.target_id == str(member_id),
                )
            )
        ).all()
        assert len(lost) == 1
        assert lost[0].actor_id == world.police.id
        assert lost[0].reason == f"must-not-receive:{entry['id']}"
        denied = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.actor_id == world.social_worker.id,
                    AuditEvent.outcome == "denied",
                    AuditEvent.target_id == case["id"],
                )
            )
        ).all()
        assert denied, "the refused reads are audited"

    async def test_removing_the_entry_gives_access_back(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await add_member(client, world.police, case, world.social_worker)
        entry = await exclude(client, world.police, case, world.social.id)
        path = f"/api/v1/cases/{case['id']}"
        assert_problem(await client.get(path, headers=world.social_worker.headers), 404)
        r = await client.delete(
            f"{path}/must-not-receive/{entry['id']}", headers=with_etag(world.police, '"1"')
        )
        assert r.status_code == 204, r.text
        assert (await client.get(path, headers=world.social_worker.headers)).status_code == 200

    async def test_their_tasks_leave_me_tasks(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await add_member(client, world.police, case, world.social_worker)
        await db.execute(
            update(Case)
            .where(Case.id == uuid.UUID(case["id"]))
            .values(next_review_at=utcnow() - timedelta(days=1))
        )
        await db.commit()

        async def review_tasks() -> list[Any]:
            r = await client.get("/api/v1/me/tasks", headers=world.social_worker.headers)
            assert r.status_code == 200, r.text
            body = r.json()
            items = body["items"] if isinstance(body, dict) else body
            return [t for t in items if t.get("case_id") == case["id"]]

        assert await review_tasks(), "the review task shows while they may read the case"
        await exclude(client, world.police, case, world.social.id)
        assert await review_tasks() == []


class TestEmergencyAccess:
    async def test_an_excluded_party_cannot_break_the_glass_and_it_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await exclude(client, world.police, case, world.other.id)
        r = await client.post(
            f"/api/v1/cases/{case['id']}/emergency-access",
            json={"reason": REASON},
            headers=world.outsider_police.headers,
        )
        body = assert_problem(r, 404)
        assert "must" not in body["detail"].lower()  # the refusal says nothing of the list
        for path in case_paths(case["id"]):
            assert_problem(await client.get(path, headers=world.outsider_police.headers), 404)
        row = await db.scalar(
            select(AuditEvent).where(
                AuditEvent.actor_id == world.outsider_police.id,
                AuditEvent.action == "case.emergency_access.request",
            )
        )
        assert row is not None and row.outcome == "denied"
        assert row.reason == "404:must-not-receive"

    async def test_a_grant_taken_before_the_entry_stops_working(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        r = await client.post(
            f"/api/v1/cases/{case['id']}/emergency-access",
            json={"reason": REASON},
            headers=world.outsider_police.headers,
        )
        assert r.status_code == 201, r.text
        path = f"/api/v1/cases/{case['id']}/notes"
        assert (await client.get(path, headers=world.outsider_police.headers)).status_code == 200
        await exclude(client, world.police, case, world.other.id)
        assert_problem(await client.get(path, headers=world.outsider_police.headers), 404)
        assert case["id"] not in await listed(client, world.outsider_police, case["reference"])

    async def test_a_party_that_is_not_listed_still_can(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await exclude(client, world.police, case, world.social.id)
        r = await client.post(
            f"/api/v1/cases/{case['id']}/emergency-access",
            json={"reason": REASON},
            headers=world.outsider_police.headers,
        )
        assert r.status_code == 201, r.text


class TestConcernScreening:
    async def test_a_team_member_outside_the_case_sees_the_status_not_the_case(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world))
        r = await screen(
            client,
            world.police,
            created["id"],
            decision="create_case",
            participant_role="person_of_concern",
            summary="Assess the threat.",
        )
        assert r.status_code == 200, r.text
        case_id = r.json()["case_id"]
        assert case_id is not None  # the screener leads the new case
        url = f"/api/v1/concerns/{created['id']}"
        # hah_police is in the receiving team but not in the case.
        theirs = await client.get(url, headers=world.hah_police.headers)
        assert theirs.status_code == 200, theirs.text
        assert theirs.json()["status"] == "action_taken"
        assert theirs.json()["case_id"] is None and case_id not in theirs.text
        inbox = await client.get(
            "/api/v1/concerns", params={"box": "inbox"}, headers=world.hah_police.headers
        )
        assert inbox.status_code == 200 and case_id not in inbox.text
        assert [i["status"] for i in inbox.json()["items"]] == ["action_taken"]
        # The case's own member still sees where it went.
        mine = await client.get(url, headers=world.police.headers)
        assert mine.json()["case_id"] == case_id
        inbox = await client.get(
            "/api/v1/concerns", params={"box": "inbox"}, headers=world.police.headers
        )
        assert [i["case_id"] for i in inbox.json()["items"]] == [case_id]

"""Concern intake: any professional pushes a concern to a team; the submitter sees
only the status; the team screens it into a case, onto a case, or out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from app.concerns.models import Concern
from tests.persons.factories import new_code, record_person
from tests.problems import assert_problem
from tests.world import Actor, TokenFactory, World, denied, make_user, open_case, with_etag

FEEDBACK_KEYS = {"view", "id", "team_id", "urgency", "status", "submitted_at", "status_changed_at"}
DESCRIPTION = "Threatening messages about the old workplace; access to a hunting rifle."


def concern_body(world: World, team: str = "hah", **extra: Any) -> dict[str, Any]:
    return {
        "team_id": str(getattr(world, team).id),
        "subject": {"given_name": "Henri", "family_name": "Huoli", "birth_date": "1995-01-09"},
        "description": DESCRIPTION,
        "legal_basis": "threat_to_life_or_health_notification",
        "urgency": "urgent",
        **extra,
    }


async def submit(client: httpx.AsyncClient, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/api/v1/concerns", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def screen(
    client: httpx.AsyncClient, actor: Actor, concern_id: str, **body: Any
) -> httpx.Response:
    current = await client.get(f"/api/v1/concerns/{concern_id}", headers=actor.headers)
    return await client.post(
        f"/api/v1/concerns/{concern_id}/screening",
        json=body,
        headers=with_etag(actor, current.headers.get("etag", '"1"')),
    )


class TestSubmitterSeesOnlyFeedback:
    async def test_health_worker_pushes_a_threat_to_the_hah_unit(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world))
        assert set(created) == FEEDBACK_KEYS and created["status"] == "received"
        mine = await client.get(f"/api/v1/concerns/{created['id']}", headers=world.health.headers)
        assert set(mine.json()) == FEEDBACK_KEYS
        assert DESCRIPTION not in mine.text and "Henri" not in mine.text
        team = await client.get(f"/api/v1/concerns/{created['id']}", headers=world.police.headers)
        assert team.json()["view"] == "screening"
        assert team.json()["description"] == DESCRIPTION
        assert team.json()["subject"]["given_name"] == "Henri"

    async def test_status_moves_and_the_case_stays_hidden(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world))
        cid = created["id"]
        r = await screen(client, world.police, cid, decision="under_consideration")
        assert r.status_code == 200, r.text
        mine = (await client.get(f"/api/v1/concerns/{cid}", headers=world.health.headers)).json()
        assert mine["status"] == "under_consideration"
        r = await screen(
            client,
            world.police,
            cid,
            decision="create_case",
            participant_role="person_of_concern",
            summary="Assess the threat.",
        )
        assert r.status_code == 200, r.text
        case_id = r.json()["case_id"]
        mine_r = await client.get(f"/api/v1/concerns/{cid}", headers=world.health.headers)
        assert mine_r.json()["status"] == "action_taken"
        assert set(mine_r.json()) == FEEDBACK_KEYS and case_id not in mine_r.text
        listed = await client.get(
            "/api/v1/concerns", params={"box": "submitted"}, headers=world.health.headers
        )
        assert [set(i) for i in listed.json()["items"]] == [FEEDBACK_KEYS]
        assert case_id not in listed.text and DESCRIPTION not in listed.text
        # The submitter is not a member of the case it led to.
        assert_problem(
            await client.get(f"/api/v1/cases/{case_id}", headers=world.health.headers), 404
        )
        # The screener leads it, with the subject as a participant.
        case = await client.get(f"/api/v1/cases/{case_id}", headers=world.police.headers)
        assert case.json()["scheme"] == "hah" and case.json()["status"] == "concern_reported"
        participants = await client.get(
            f"/api/v1/cases/{case_id}/participants", headers=world.police.headers
        )
        assert [p["role"] for p in participants.json()] == ["person_of_concern"]

    async def test_dismissal_needs_a_reason_and_reads_no_further_action(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world))
        assert_problem(await screen(client, world.police, created["id"], decision="dismiss"), 422)
        r = await screen(
            client, world.police, created["id"], decision="dismiss", reason="Known; no threat."
        )
        assert r.status_code == 200 and r.json()["decision_reason"] == "Known; no threat."
        mine = await client.get(f"/api/v1/concerns/{created['id']}", headers=world.health.headers)
        assert mine.json()["status"] == "no_further_action"
        assert "Known; no threat." not in mine.text
        again = await screen(
            client, world.police, created["id"], decision="dismiss", reason="Twice over."
        )
        assert_problem(again, 409)


class TestScreening:
    async def test_attach_to_a_case_of_the_team_reuses_the_recorded_person(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        code = new_code()
        case = await open_case(client, world.police, world.marak)
        victim = (
            await record_person(client, world.police, case["id"], "victim", identity_code=code)
        )["person"]
        subject = {"given_name": "Vilja", "family_name": "Virtanen", "identity_code": code}
        created = await submit(
            client,
            world.health,
            concern_body(world, "marak", subject=subject, legal_basis="consent"),
        )
        team_view = await client.get(
            f"/api/v1/concerns/{created['id']}", headers=world.police.headers
        )
        assert team_view.json()["subject"]["matched_existing"] is True
        other_team_case = await open_case(client, world.police, world.ankkuri)
        wrong = await screen(
            client,
            world.police,
            created["id"],
            decision="attach",
            case_id=other_team_case["id"],
            participant_role="victim",
        )
        assert_problem(wrong, 422)
        # Already in that case as the victim: attaching again is a conflict ...
        r = await screen(
            client,
            world.police,
            created["id"],
            decision="attach",
            case_id=case["id"],
            participant_role="victim",
        )
        assert_problem(r, 409)
        # ... so attach it to another case of the team.
        second = await open_case(client, world.police, world.marak)
        r = await screen(
            client,
            world.police,
            created["id"],
            decision="attach",
            case_id=second["id"],
            participant_role="victim",
        )
        assert r.status_code == 200, r.text
        participants = await client.get(
            f"/api/v1/cases/{second['id']}/participants", headers=world.police.headers
        )
        assert [p["person"]["id"] for p in participants.json()] == [victim["id"]]

    async def test_attach_to_a_case_you_cannot_see_is_404(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        foreign = await open_case(client, world.social_worker, world.marak)
        created = await submit(client, world.health, concern_body(world, "marak"))
        r = await screen(
            client,
            world.police,
            created["id"],
            decision="attach",
            case_id=foreign["id"],
            participant_role="victim",
        )
        assert_problem(r, 404)

    async def test_inbox_is_the_teams_and_if_match_is_required(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world))
        inbox = await client.get(
            "/api/v1/concerns", params={"box": "inbox"}, headers=world.hah_police.headers
        )
        assert [i["id"] for i in inbox.json()["items"]] == [created["id"]]
        assert inbox.json()["items"][0]["view"] == "screening"
        not_mine = await client.get(
            "/api/v1/concerns", params={"box": "inbox"}, headers=world.social_worker.headers
        )
        assert not_mine.json()["items"] == []
        r = await client.post(
            f"/api/v1/concerns/{created['id']}/screening",
            json={"decision": "under_consideration"},
            headers=world.police.headers,
        )
        assert_problem(r, 428)


class TestRefusals:
    async def test_outsider_gets_404(self, client: httpx.AsyncClient, world: World) -> None:
        created = await submit(client, world.health, concern_body(world))
        for actor in (world.social_worker, world.outsider_police):
            r = await client.get(f"/api/v1/concerns/{created['id']}", headers=actor.headers)
            assert_problem(r, 404)
            r = await client.post(
                f"/api/v1/concerns/{created['id']}/screening",
                json={"decision": "under_consideration"},
                headers=with_etag(actor, '"1"'),
            )
            assert_problem(r, 404)

    async def test_submitter_cannot_screen_their_own_concern(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world))
        r = await client.post(
            f"/api/v1/concerns/{created['id']}/screening",
            json={"decision": "dismiss", "reason": "Never mind."},
            headers=with_etag(world.health, '"1"'),
        )
        assert_problem(r, 404)

    @pytest.mark.parametrize("role", denied(Action.CONCERN_SUBMIT))
    async def test_roles_the_policy_refuses_may_not_submit(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        tokens: TokenFactory,
        world: World,
        role: str,
    ) -> None:
        actor = await make_user(db, tokens, world.other, role)
        await db.commit()
        r = await client.post("/api/v1/concerns", json=concern_body(world), headers=actor.headers)
        assert_problem(r, 403)
        made = select(func.count()).where(Concern.team_id == world.hah.id)
        assert await db.scalar(made) == 0

    async def test_roles_without_the_permission_get_403(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await submit(client, world.health, concern_body(world, "marak"))
        r = await client.post(
            f"/api/v1/concerns/{created['id']}/screening",
            json={"decision": "under_consideration"},
            headers=with_etag(world.advocate, '"1"'),
        )
        assert_problem(r, 403)  # the support person does not screen
        for path, params in (
            (f"/api/v1/concerns/{created['id']}", None),
            ("/api/v1/concerns", {"box": "inbox"}),
            ("/api/v1/concerns", {"box": "submitted"}),
        ):
            r = await client.get(path, params=params, headers=world.auditor.headers)
            assert_problem(r, 403)

    async def test_bad_bodies_are_422(self, client: httpx.AsyncClient, world: World) -> None:
        h = world.health.headers
        for body in (
            concern_body(world, status="action_taken"),
            concern_body(world, legal_basis="curiosity"),
            concern_body(world, description="short"),
            concern_body(world, team_id="00000000-0000-0000-0000-000000000000"),
            {
                **concern_body(world),
                "subject": {"given_name": "A", "family_name": "B", "identity_code": "131052-308U"},
            },
        ):
            r = await client.post("/api/v1/concerns", json=body, headers=h)
            assert_problem(r, 422)
            assert "131052" not in r.text

    async def test_integration_with_the_scope_may_push(
        self, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World
    ) -> None:
        system = await make_user(db, tokens, world.social, "integration")
        await db.commit()
        no_scope = await client.post(
            "/api/v1/concerns", json=concern_body(world), headers=system.headers
        )
        assert_problem(no_scope, 403)
        token = tokens.mint(system.sub, ["integration"], world.social.code, scope="concerns:write")
        headers = {"Authorization": f"Bearer {token}"}
        r = await client.post("/api/v1/concerns", json=concern_body(world), headers=headers)
        assert r.status_code == 201, r.text
        assert set(r.json()) == FEEDBACK_KEYS

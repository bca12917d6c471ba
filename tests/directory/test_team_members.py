"""Team members: who may list, add and remove them; a coordinator only in their own
organisation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from tests.directory.helpers import (
    ALL_ROLES,
    API,
    actor_as,
    create_team,
    forbidden,
    uniq,
)
from tests.problems import assert_problem
from tests.world import allowed

# --- team members ------------------------------------------------------------------


class TestListTeamMembers:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_team_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        member = await make_actor("police")
        team = (await create_team(client, admin, admin.org_id)).json()
        await client.post(
            f"{API}/teams/{team['id']}/members",
            json={"user_id": str(member.id)},
            headers=admin.headers,
        )
        r = await client.get(f"{API}/teams/{team['id']}/members", headers=actor.headers)
        if role in allowed(Action.TEAM_READ):
            assert r.status_code == 200
            assert [(m["user_id"], m["team_role"]) for m in r.json()] == [
                (str(member.id), "member")
            ]
        else:
            forbidden(r)

    async def test_unknown_team_gets_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.get(f"{API}/teams/{uuid.uuid4()}/members", headers=admin.headers)
        assert_problem(r, 404)


class TestAddTeamMember:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_managers_add_in_own_org_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        member = await make_actor("social_worker")
        team = (await create_team(client, admin, actor.org_id)).json()
        r = await client.post(
            f"{API}/teams/{team['id']}/members",
            json={"user_id": str(member.id), "team_role": "member"},
            headers=actor.headers,
        )
        members = (
            await client.get(f"{API}/teams/{team['id']}/members", headers=admin.headers)
        ).json()
        if role in allowed(Action.TEAM_MEMBER_MANAGE):
            assert r.status_code == 201, r.text
            assert r.json()["user_id"] == str(member.id)
            assert [m["user_id"] for m in members] == [str(member.id)]
        else:
            forbidden(r)
            assert members == []

    async def test_coordinator_in_other_org_gets_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        coordinator = await make_actor("coordinator", org=uniq("social"))
        team = (await create_team(client, admin, admin.org_id)).json()
        r = await client.post(
            f"{API}/teams/{team['id']}/members",
            json={"user_id": str(coordinator.id)},
            headers=coordinator.headers,
        )
        forbidden(r)

    async def test_duplicate_gets_409(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        member = await make_actor("police")
        team = (await create_team(client, admin, admin.org_id)).json()
        url = f"{API}/teams/{team['id']}/members"
        assert (
            await client.post(url, json={"user_id": str(member.id)}, headers=admin.headers)
        ).status_code == 201
        assert_problem(
            await client.post(url, json={"user_id": str(member.id)}, headers=admin.headers), 409
        )

    async def test_unknown_user_gets_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        team = (await create_team(client, admin, admin.org_id)).json()
        r = await client.post(
            f"{API}/teams/{team['id']}/members",
            json={"user_id": str(uuid.uuid4())},
            headers=admin.headers,
        )
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "user_id"

    async def test_addition_is_audited(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, db: AsyncSession
    ) -> None:
        member = await make_actor("police")
        team = (await create_team(client, admin, admin.org_id)).json()
        await client.post(
            f"{API}/teams/{team['id']}/members",
            json={"user_id": str(member.id)},
            headers=admin.headers,
        )
        row = await db.scalar(
            select(AuditEvent).where(AuditEvent.action == "directory.team.member_added")
        )
        assert row is not None
        assert (row.actor_id, row.target_id) == (admin.id, team["id"])


class TestRemoveTeamMember:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_managers_remove_in_own_org_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        member = await make_actor("health_worker")
        team = (await create_team(client, admin, actor.org_id)).json()
        members_url = f"{API}/teams/{team['id']}/members"
        await client.post(members_url, json={"user_id": str(member.id)}, headers=admin.headers)
        r = await client.delete(f"{members_url}/{member.id}", headers=actor.headers)
        remaining = (await client.get(members_url, headers=admin.headers)).json()
        if role in allowed(Action.TEAM_MEMBER_MANAGE):
            assert r.status_code == 204
            assert r.content == b""
            assert remaining == []
        else:
            forbidden(r)
            assert [m["user_id"] for m in remaining] == [str(member.id)]

    async def test_coordinator_in_other_org_gets_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        coordinator = await make_actor("coordinator", org=uniq("social"))
        member = await make_actor("police")
        team = (await create_team(client, admin, admin.org_id)).json()
        members_url = f"{API}/teams/{team['id']}/members"
        await client.post(members_url, json={"user_id": str(member.id)}, headers=admin.headers)
        forbidden(await client.delete(f"{members_url}/{member.id}", headers=coordinator.headers))
        assert len((await client.get(members_url, headers=admin.headers)).json()) == 1

    async def test_non_member_gets_404(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        outsider = await make_actor("police")
        team = (await create_team(client, admin, admin.org_id)).json()
        r = await client.delete(
            f"{API}/teams/{team['id']}/members/{outsider.id}", headers=admin.headers
        )
        assert_problem(r, 404)

    async def test_removed_member_loses_the_team_from_me(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        member = await make_actor("police")
        team = (await create_team(client, admin, admin.org_id)).json()
        members_url = f"{API}/teams/{team['id']}/members"
        await client.post(members_url, json={"user_id": str(member.id)}, headers=admin.headers)
        assert len((await client.get(f"{API}/me", headers=member.headers)).json()["teams"]) == 1
        await client.delete(f"{members_url}/{member.id}", headers=admin.headers)
        assert (await client.get(f"{API}/me", headers=member.headers)).json()["teams"] == []

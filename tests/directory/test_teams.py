"""Teams: who may list, read, create and update them; a coordinator only in their own
organisation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from tests.directory.helpers import (
    ALL_ROLES,
    API,
    actor_as,
    create_org,
    create_team,
    denial_rows,
    forbidden,
    uniq,
)
from tests.problems import assert_problem
from tests.world import allowed

# --- teams -------------------------------------------------------------------------


class TestListTeams:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_team_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        team = (await create_team(client, admin, actor.org_id)).json()
        r = await client.get(
            f"{API}/teams", params={"organisation_id": str(actor.org_id)}, headers=actor.headers
        )
        if role in allowed(Action.TEAM_READ):
            assert r.status_code == 200
            assert [t["id"] for t in r.json()["items"]] == [team["id"]]
        else:
            forbidden(r)

    async def test_filters_by_kind_organisation_and_mine(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        member = await make_actor("police")
        org_id = member.org_id
        marak = (await create_team(client, admin, org_id, kind="marak")).json()
        hah = (await create_team(client, admin, org_id, kind="hah")).json()
        elsewhere = (await create_team(client, admin, admin.org_id, kind="marak")).json()
        await client.post(
            f"{API}/teams/{hah['id']}/members",
            json={"user_id": str(member.id)},
            headers=admin.headers,
        )

        async def ids(actor: Any, **params: Any) -> set[str]:
            r = await client.get(f"{API}/teams", params=params, headers=actor.headers)
            assert r.status_code == 200
            return {t["id"] for t in r.json()["items"]}

        assert await ids(admin, organisation_id=str(org_id)) == {marak["id"], hah["id"]}
        assert await ids(admin, organisation_id=str(org_id), kind="marak") == {marak["id"]}
        assert elsewhere["id"] in await ids(admin, kind="marak")
        assert await ids(member, mine="true") == {hah["id"]}
        assert await ids(admin, mine="true") == set()

    async def test_pages_without_gaps(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        org_id = (await create_org(client, admin)).json()["id"]
        made = [(await create_team(client, admin, org_id)).json()["id"] for _ in range(3)]
        params: dict[str, Any] = {"organisation_id": org_id, "limit": 2}
        first = (await client.get(f"{API}/teams", params=params, headers=admin.headers)).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = (
            await client.get(
                f"{API}/teams",
                params={**params, "cursor": first["next_cursor"]},
                headers=admin.headers,
            )
        ).json()
        assert second["next_cursor"] is None
        assert [t["id"] for t in first["items"] + second["items"]] == list(reversed(made))


class TestCreateTeam:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_managers_create_in_own_org_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.post(
            f"{API}/teams",
            json={
                "name": "Ankkuri East",
                "kind": "ankkuri",
                "organisation_id": str(actor.org_id),
                "area": "East",
            },
            headers=actor.headers,
        )
        if role in allowed(Action.TEAM_MANAGE):
            assert r.status_code == 201, r.text
            assert r.json()["organisation_id"] == str(actor.org_id)
            assert r.headers["etag"] == '"1"'
        else:
            forbidden(r)

    async def test_coordinator_in_other_org_gets_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, db: AsyncSession
    ) -> None:
        coordinator = await make_actor("coordinator", org=uniq("social"))
        r = await client.post(
            f"{API}/teams",
            json={
                "name": "Not mine",
                "kind": "hah",
                "organisation_id": str(admin.org_id),
                "area": "North",
            },
            headers=coordinator.headers,
        )
        forbidden(r)
        [denial] = await denial_rows(db, coordinator.id)
        assert (denial.action, denial.reason) == ("team.manage", "403:other organisation")
        listed = await client.get(
            f"{API}/teams", params={"organisation_id": str(admin.org_id)}, headers=admin.headers
        )
        assert listed.json()["items"] == []

    async def test_admin_creates_in_any_org(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        other = await make_actor("police", org=uniq("police"))
        r = await create_team(client, admin, other.org_id)
        assert r.json()["organisation_id"] == str(other.org_id)

    async def test_unknown_kind_gets_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.post(
            f"{API}/teams",
            json={
                "name": "T",
                "kind": "book-club",
                "organisation_id": str(admin.org_id),
                "area": "A",
            },
            headers=admin.headers,
        )
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["kind"]


class TestGetTeam:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_team_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        team = (await create_team(client, admin, admin.org_id)).json()
        r = await client.get(f"{API}/teams/{team['id']}", headers=actor.headers)
        if role in allowed(Action.TEAM_READ):
            assert r.status_code == 200
            assert r.json() == team
            assert r.headers["etag"] == '"1"'
        else:
            forbidden(r)

    async def test_unknown_id_gets_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        assert_problem(await client.get(f"{API}/teams/{uuid.uuid4()}", headers=admin.headers), 404)


class TestUpdateTeam:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_managers_update_own_org_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        created = await create_team(client, admin, actor.org_id)
        url = f"{API}/teams/{created.json()['id']}"
        r = await client.patch(
            url,
            json={"name": "Renamed", "area": "West"},
            headers={**actor.headers, "If-Match": created.headers["etag"]},
        )
        after = (await client.get(url, headers=admin.headers)).json()
        if role in allowed(Action.TEAM_MANAGE):
            assert r.status_code == 200, r.text
            assert (after["name"], after["area"], after["version"]) == ("Renamed", "West", 2)
        else:
            forbidden(r)
            assert after["version"] == 1

    async def test_coordinator_in_other_org_gets_403_even_with_stale_etag(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        coordinator = await make_actor("coordinator", org=uniq("social"))
        created = await create_team(client, admin, admin.org_id)
        url = f"{API}/teams/{created.json()['id']}"
        for etag in (created.headers["etag"], '"99"'):
            r = await client.patch(
                url, json={"name": "Mine now"}, headers={**coordinator.headers, "If-Match": etag}
            )
            forbidden(r)
        assert (await client.get(url, headers=admin.headers)).json()["name"] != "Mine now"

    async def test_missing_if_match_gets_428(self, client: httpx.AsyncClient, admin: Any) -> None:
        team = (await create_team(client, admin, admin.org_id)).json()
        r = await client.patch(
            f"{API}/teams/{team['id']}", json={"name": "X"}, headers=admin.headers
        )
        assert_problem(r, 428)

    async def test_stale_if_match_gets_412_and_current_gets_200(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        team = (await create_team(client, admin, admin.org_id)).json()
        url = f"{API}/teams/{team['id']}"
        first = await client.patch(
            url, json={"area": "A1"}, headers={**admin.headers, "If-Match": '"1"'}
        )
        assert first.status_code == 200
        assert_problem(
            await client.patch(
                url, json={"area": "A2"}, headers={**admin.headers, "If-Match": '"1"'}
            ),
            412,
        )
        current = await client.patch(
            url, json={"area": "A2"}, headers={**admin.headers, "If-Match": first.headers["etag"]}
        )
        assert current.status_code == 200
        assert current.json()["area"] == "A2"

    async def test_team_cannot_move_organisation(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        team = (await create_team(client, admin, admin.org_id)).json()
        r = await client.patch(
            f"{API}/teams/{team['id']}",
            json={"organisation_id": str(uuid.uuid4())},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        assert_problem(r, 422)

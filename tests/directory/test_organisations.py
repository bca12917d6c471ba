"""Organisations: who may list, read, create and update them; paging, filters, ETags."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from app.directory.models import Organisation
from tests.directory.helpers import (
    ALL_ROLES,
    API,
    actor_as,
    create_org,
    denial_rows,
    forbidden,
    uniq,
)
from tests.problems import assert_problem
from tests.world import allowed

# --- organisations ---------------------------------------------------------------


class TestListOrganisations:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.get(f"{API}/organisations", headers=actor.headers)
        if role in allowed(Action.ORGANISATION_READ):
            assert r.status_code == 200
            assert actor.org.code in [o["code"] for o in r.json()["items"]]
        else:
            forbidden(r)

    async def test_filter_by_kind(self, client: httpx.AsyncClient, admin: Any) -> None:
        police = (await create_org(client, admin, kind="police")).json()
        await create_org(client, admin, kind="education")
        r = await client.get(
            f"{API}/organisations", params={"kind": "police", "limit": 100}, headers=admin.headers
        )
        items = r.json()["items"]
        assert police["id"] in [o["id"] for o in items]
        assert {o["kind"] for o in items} == {"police"}

    async def test_pages_by_code_without_gaps_or_repeats(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        for _ in range(5):
            await create_org(client, admin, kind="youth_services")
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"kind": "youth_services", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            body = (
                await client.get(f"{API}/organisations", params=params, headers=admin.headers)
            ).json()
            assert len(body["items"]) <= 2
            seen += [o["code"] for o in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 5
        assert seen == sorted(seen)

    async def test_limit_over_100_gets_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.get(f"{API}/organisations", params={"limit": 101}, headers=admin.headers)
        assert_problem(r, 422)


class TestCreateOrganisation:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_admin_creates_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        code = uniq("created")
        r = await client.post(
            f"{API}/organisations",
            json={"code": code, "name": "Created", "kind": "health_services"},
            headers=actor.headers,
        )
        exists = await db.scalar(select(Organisation).where(Organisation.code == code))
        if role in allowed(Action.ORGANISATION_MANAGE):
            assert r.status_code == 201, r.text
            assert r.json()["kind"] == "health_services"
            assert r.headers["etag"] == '"1"'
            assert exists is not None
        else:
            forbidden(r)
            assert exists is None
            [denial] = await denial_rows(db, actor.id)
            assert denial.action == "organisation.manage"

    async def test_duplicate_code_gets_409(self, client: httpx.AsyncClient, admin: Any) -> None:
        code = uniq("dup")
        await create_org(client, admin, code=code)
        r = await client.post(
            f"{API}/organisations",
            json={"code": code, "name": "Again", "kind": "ngo"},
            headers=admin.headers,
        )
        assert_problem(r, 409)

    async def test_unknown_kind_gets_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.post(
            f"{API}/organisations",
            json={"code": uniq("k"), "name": "K", "kind": "church"},
            headers=admin.headers,
        )
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["kind"]


class TestGetOrganisation:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.get(f"{API}/organisations/{actor.org_id}", headers=actor.headers)
        if role in allowed(Action.ORGANISATION_READ):
            assert r.status_code == 200
            assert r.json()["code"] == actor.org.code
            assert r.headers["etag"] == f'"{r.json()["version"]}"'
        else:
            forbidden(r)

    async def test_unknown_id_gets_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.get(f"{API}/organisations/{uuid.uuid4()}", headers=admin.headers)
        assert_problem(r, 404)


class TestUpdateOrganisation:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_admin_updates_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        created = await create_org(client, admin)
        org_id = created.json()["id"]
        r = await client.patch(
            f"{API}/organisations/{org_id}",
            json={"name": "Renamed", "kind": "education"},
            headers={**actor.headers, "If-Match": created.headers["etag"]},
        )
        after = (await client.get(f"{API}/organisations/{org_id}", headers=admin.headers)).json()
        if role in allowed(Action.ORGANISATION_MANAGE):
            assert r.status_code == 200, r.text
            assert (after["name"], after["kind"], after["version"]) == ("Renamed", "education", 2)
            assert r.headers["etag"] == '"2"'
        else:
            forbidden(r)
            assert (after["name"], after["version"]) == ("Some organisation", 1)

    async def test_missing_if_match_gets_428(self, client: httpx.AsyncClient, admin: Any) -> None:
        org_id = (await create_org(client, admin)).json()["id"]
        r = await client.patch(
            f"{API}/organisations/{org_id}", json={"name": "X"}, headers=admin.headers
        )
        assert_problem(r, 428)

    async def test_stale_if_match_gets_412_and_current_gets_200(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        created = await create_org(client, admin)
        url = f"{API}/organisations/{created.json()['id']}"
        first = await client.patch(
            url, json={"name": "One"}, headers={**admin.headers, "If-Match": '"1"'}
        )
        assert first.headers["etag"] == '"2"'
        stale = await client.patch(
            url, json={"name": "Two"}, headers={**admin.headers, "If-Match": '"1"'}
        )
        assert_problem(stale, 412)
        current = await client.patch(
            url, json={"name": "Two"}, headers={**admin.headers, "If-Match": first.headers["etag"]}
        )
        assert current.status_code == 200
        assert current.json()["name"] == "Two"

    async def test_code_cannot_be_changed(self, client: httpx.AsyncClient, admin: Any) -> None:
        created = await create_org(client, admin)
        r = await client.patch(
            f"{API}/organisations/{created.json()['id']}",
            json={"code": "hijacked"},
            headers={**admin.headers, "If-Match": created.headers["etag"]},
        )
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["code"]

    async def test_unknown_id_gets_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.patch(
            f"{API}/organisations/{uuid.uuid4()}",
            json={"name": "X"},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        assert_problem(r, 404)

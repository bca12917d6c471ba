"""Service directory routes: who may read and manage, filters, paging, ETags, seed.

Every route is exercised for every role: the allowed ones succeed and the rest
get 403 problem+json (and change nothing).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action, Scope
from app.auth.principal import Role
from app.demo.services import PROVIDERS, SERVICES, seed_services
from app.directory.models import Organisation
from app.referrals.models import ServiceEntry
from tests.problems import assert_problem
from tests.world import allowed

API = "/api/v1"
ALL_ROLES = [r.value for r in Role]
READERS = allowed(Action.SERVICE_READ)
MANAGERS = allowed(Action.SERVICE_MANAGE)


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def actor_as(make_actor: Any, role: str) -> Any:
    # Every integration scope: referrals:read reads the directory, none manages it.
    return await make_actor(role, org=uniq("org"), scope=" ".join(Scope))


def service_body(provider: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_organisation_id": str(provider),
        "service_type": "perpetrator_programme",
        "name": uniq("Programme"),
        "areas": ["Espoo"],
        "languages": ["fi"],
        "contact_phone": "09 123 456",
        "contact_web": "https://example.org/programme",
        "accepts_electronic_referrals": True,
        "response_time_target_days": 14,
    }
    body.update(overrides)
    return body


async def create_service(client: httpx.AsyncClient, admin: Any, **overrides: Any) -> Any:
    r = await client.post(
        f"{API}/services", json=service_body(admin.org_id, **overrides), headers=admin.headers
    )
    assert r.status_code == 201, r.text
    return r


@pytest.fixture
async def admin(make_actor: Any) -> Any:
    return await make_actor("admin", org=uniq("org"))


class TestAccess:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_list(self, client: httpx.AsyncClient, make_actor: Any, role: str) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.get(f"{API}/services", headers=actor.headers)
        if role in READERS:
            assert r.status_code == 200, r.text
            assert "items" in r.json()
        else:
            assert_problem(r, 403)

    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_read_one(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        sid = (await create_service(client, admin)).json()["id"]
        actor = await actor_as(make_actor, role)
        r = await client.get(f"{API}/services/{sid}", headers=actor.headers)
        if role in READERS:
            assert r.status_code == 200, r.text
            assert r.json()["id"] == sid
            assert r.headers["ETag"] == '"1"'
        else:
            assert_problem(r, 403)

    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_create(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        body = service_body(actor.org_id)
        r = await client.post(f"{API}/services", json=body, headers=actor.headers)
        rows = await db.scalar(
            select(func.count()).select_from(ServiceEntry).where(ServiceEntry.name == body["name"])
        )
        if role in MANAGERS:
            assert r.status_code == 201, r.text
            assert r.headers["ETag"] == '"1"'
            assert rows == 1
            audited = await db.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "referrals.service.created",
                    AuditEvent.target_id == r.json()["id"],
                )
            )
            assert audited == 1
        else:
            assert_problem(r, 403)
            assert rows == 0

    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_update(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, db: AsyncSession, role: str
    ) -> None:
        sid = (await create_service(client, admin)).json()["id"]
        actor = await actor_as(make_actor, role)
        r = await client.patch(
            f"{API}/services/{sid}",
            json={"active": False},
            headers={**actor.headers, "If-Match": '"1"'},
        )
        check = await client.get(f"{API}/services/{sid}", headers=admin.headers)
        if role in MANAGERS:
            assert r.status_code == 200, r.text
            assert r.json()["active"] is False
            assert r.headers["ETag"] == '"2"'
            audited = await db.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "referrals.service.updated",
                    AuditEvent.target_id == sid,
                )
            )
            assert audited == 1
        else:
            assert_problem(r, 403)
            assert check.json()["active"] is True
            assert check.json()["version"] == 1

    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(f"{API}/services"), 401)


class TestFilters:
    async def test_type_area_language(self, client: httpx.AsyncClient, admin: Any) -> None:
        area = uniq("Area")
        a = (await create_service(client, admin, areas=[area], languages=["fi", "sv"])).json()
        b = (
            await create_service(
                client, admin, areas=[area, "Vantaa"], languages=["en"], service_type="shelter"
            )
        ).json()
        c = (await create_service(client, admin, areas=[f"{area}x"], languages=["fi"])).json()
        national = (
            await create_service(client, admin, areas=["national"], languages=["other"])
        ).json()

        async def ids(**params: Any) -> set[str]:
            r = await client.get(
                f"{API}/services", params={"limit": 100, **params}, headers=admin.headers
            )
            assert r.status_code == 200, r.text
            return {s["id"] for s in r.json()["items"]}

        in_area = await ids(area=area)
        assert {a["id"], b["id"], national["id"]} <= in_area
        assert c["id"] not in in_area  # "Areax" is another area, not a prefix match
        assert await ids(area=area, type="shelter") == {b["id"]}
        assert await ids(area=area, language="sv") == {a["id"]}
        assert await ids(area=area, language="other") == {national["id"]}
        assert c["id"] in await ids(area=f"{area}x", language="fi")

    async def test_inactive_hidden_unless_asked(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        area = uniq("Area")
        s = (await create_service(client, admin, areas=[area], active=False)).json()
        r = await client.get(f"{API}/services", params={"area": area}, headers=admin.headers)
        assert s["id"] not in {x["id"] for x in r.json()["items"]}
        r = await client.get(
            f"{API}/services",
            params={"area": area, "include_inactive": True},
            headers=admin.headers,
        )
        assert s["id"] in {x["id"] for x in r.json()["items"]}

    async def test_unknown_type_or_language_is_422(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        for params in ({"type": "spa"}, {"language": "de"}):
            r = await client.get(f"{API}/services", params=params, headers=admin.headers)
            assert_problem(r, 422)


class TestPaging:
    async def test_keyset_pages(self, client: httpx.AsyncClient, admin: Any) -> None:
        area = uniq("Area")
        made = set()
        for _ in range(5):
            made.add((await create_service(client, admin, areas=[area])).json()["id"])
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params: dict[str, Any] = {"area": area, "limit": 2, "language": "fi"}
            if cursor:
                params["cursor"] = cursor
            r = await client.get(f"{API}/services", params=params, headers=admin.headers)
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["items"]) <= 2
            seen += [s["id"] for s in body["items"] if s["id"] in made]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5

    @pytest.mark.parametrize("limit", [0, 101])
    async def test_limit_bounds(self, client: httpx.AsyncClient, admin: Any, limit: int) -> None:
        r = await client.get(f"{API}/services", params={"limit": limit}, headers=admin.headers)
        assert_problem(r, 422)

    async def test_bad_cursor_is_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.get(f"{API}/services", params={"cursor": "nope"}, headers=admin.headers)
        assert_problem(r, 422)


class TestWrites:
    async def test_if_match_required_and_checked(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        sid = (await create_service(client, admin)).json()["id"]
        url = f"{API}/services/{sid}"
        assert_problem(await client.patch(url, json={"name": "x"}, headers=admin.headers), 428)
        stale = {**admin.headers, "If-Match": '"7"'}
        assert_problem(await client.patch(url, json={"name": "x"}, headers=stale), 412)
        ok = await client.patch(
            url, json={"name": "Renamed"}, headers={**admin.headers, "If-Match": '"1"'}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["name"] == "Renamed"
        again = await client.patch(
            url, json={"name": "Again"}, headers={**admin.headers, "If-Match": '"1"'}
        )
        assert_problem(again, 412)

    async def test_patch_can_clear_contact(self, client: httpx.AsyncClient, admin: Any) -> None:
        sid = (await create_service(client, admin)).json()["id"]
        r = await client.patch(
            f"{API}/services/{sid}",
            json={"contact_phone": None, "languages": ["fi", "en"]},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["contact_phone"] is None
        assert r.json()["languages"] == ["fi", "en"]

    @pytest.mark.parametrize(
        "extra",
        [{"id": str(uuid.uuid4())}, {"version": 9}, {"contact_email": "a@b.fi"}, {"notes": "x"}],
    )
    async def test_mass_assignment_is_422(
        self, client: httpx.AsyncClient, admin: Any, extra: dict[str, Any]
    ) -> None:
        r = await client.post(
            f"{API}/services", json={**service_body(admin.org_id), **extra}, headers=admin.headers
        )
        assert_problem(r, 422)
        sid = (await create_service(client, admin)).json()["id"]
        r = await client.patch(
            f"{API}/services/{sid}", json=extra, headers={**admin.headers, "If-Match": '"1"'}
        )
        assert_problem(r, 422)

    @pytest.mark.parametrize(
        "bad",
        [
            {"service_type": "spa"},
            {"languages": ["de"]},
            {"languages": []},
            {"areas": []},
            {"areas": ["  "]},
            {"contact_phone": "call Maija at home"},
            {"contact_web": "not a url"},
            {"response_time_target_days": -1},
        ],
    )
    async def test_invalid_values_are_422(
        self, client: httpx.AsyncClient, admin: Any, bad: dict[str, Any]
    ) -> None:
        r = await client.post(
            f"{API}/services", json=service_body(admin.org_id, **bad), headers=admin.headers
        )
        assert_problem(r, 422)

    async def test_unknown_provider_is_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        r = await client.post(
            f"{API}/services", json=service_body(uuid.uuid4()), headers=admin.headers
        )
        assert_problem(r, 422)

    async def test_duplicate_name_for_provider_is_409(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        name = uniq("Same")
        await create_service(client, admin, name=name)
        r = await client.post(
            f"{API}/services", json=service_body(admin.org_id, name=name), headers=admin.headers
        )
        assert_problem(r, 409)

    async def test_unknown_service_is_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        assert_problem(
            await client.get(f"{API}/services/{uuid.uuid4()}", headers=admin.headers), 404
        )
        r = await client.patch(
            f"{API}/services/{uuid.uuid4()}",
            json={"active": False},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        assert_problem(r, 404)


class TestSeed:
    async def test_seed_is_idempotent(self, db: AsyncSession) -> None:
        first = await seed_services(db)
        assert first >= len(SERVICES)
        assert await seed_services(db) == 0
        codes = [code for code, _, _ in PROVIDERS]
        orgs = await db.scalar(
            select(func.count()).select_from(Organisation).where(Organisation.code.in_(codes))
        )
        assert orgs == len(PROVIDERS)
        count = await db.scalar(select(func.count()).select_from(ServiceEntry))
        assert count == len(SERVICES)

    async def test_seed_keeps_admin_edits(self, db: AsyncSession) -> None:
        await seed_services(db)
        entry = await db.scalar(select(ServiceEntry).where(ServiceEntry.contact_phone == "116 006"))
        assert entry is not None
        entry.active = False
        await db.flush()
        assert await seed_services(db) == 0
        await db.refresh(entry)
        assert entry.active is False

    async def test_seed_uses_public_national_numbers_only(self, db: AsyncSession) -> None:
        await seed_services(db)
        phones = set(await db.scalars(select(ServiceEntry.contact_phone)))
        assert phones - {None} == {"116 006", "080 005 005"}
        types = set(await db.scalars(select(ServiceEntry.service_type)))
        assert {"victim_support", "helpline", "shelter", "perpetrator_programme"} <= types

    async def test_seeded_services_are_listed(
        self, client: httpx.AsyncClient, db: AsyncSession, make_actor: Any
    ) -> None:
        await seed_services(db)
        await db.flush()
        police = await make_actor("police", org=uniq("org"))
        r = await client.get(
            f"{API}/services", params={"type": "helpline", "area": "Espoo"}, headers=police.headers
        )
        assert r.status_code == 200, r.text
        assert any(s["contact_phone"] == "080 005 005" for s in r.json()["items"])

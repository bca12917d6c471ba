"""Directory routes: who may do what, JIT registration, paging, filters and ETags.

Every route is exercised for every role: the allowed ones succeed and the rest
get 403 problem+json (and change nothing). Team management is further limited
to a coordinator's own organisation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.principal import Role
from app.directory.models import Organisation, User
from tests.conftest import TokenFactory
from tests.problems import assert_problem

API = "/api/v1"
ALL_ROLES = [r.value for r in Role]
PROFESSIONALS = {
    "police",
    "social_worker",
    "health_worker",
    "youth_worker",
    "victim_advocate",
    "coordinator",
}
ORG_READERS = set(ALL_ROLES) - {"integration"}
USER_READERS = {"admin", "coordinator", "auditor"}
TEAM_READERS = PROFESSIONALS | {"admin", "auditor"}
TEAM_MANAGERS = {"admin", "coordinator"}
ADMINS = {"admin"}


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def actor_as(make_actor: Any, role: str, org: str | None = None) -> Any:
    # Integration clients need the me.read scope to register through /me; the
    # directory actions in their scope must still not help them.
    return await make_actor(
        role,
        org=org or uniq("org"),
        scope="me.read organisation.read organisation.manage user.read team.read team.manage",
    )


async def create_org(
    client: httpx.AsyncClient, admin: Any, *, kind: str = "ngo", code: str | None = None
) -> httpx.Response:
    r = await client.post(
        f"{API}/organisations",
        json={"code": code or uniq("org"), "name": "Some organisation", "kind": kind},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return r


async def create_team(
    client: httpx.AsyncClient,
    admin: Any,
    organisation_id: uuid.UUID | str,
    *,
    kind: str = "marak",
    name: str | None = None,
) -> httpx.Response:
    r = await client.post(
        f"{API}/teams",
        json={
            "name": name or uniq("team"),
            "kind": kind,
            "organisation_id": str(organisation_id),
            "area": "Helsinki",
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return r


def forbidden(r: httpx.Response) -> None:
    body = assert_problem(r, 403)
    assert body["type"].endswith("/forbidden")


async def denial_rows(db: AsyncSession, actor_id: uuid.UUID) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.actor_id == actor_id, AuditEvent.outcome == "denied")
    return list((await db.scalars(stmt)).all())


@pytest.fixture
async def admin(make_actor: Any) -> Any:
    return await make_actor("admin", org="casecoord-ops")


# --- /me -------------------------------------------------------------------------


class TestGetMeForEveryRole:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_every_role_reads_itself(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.get(f"{API}/me", headers=actor.headers)
        assert r.status_code == 200
        assert r.json()["roles"] == [role]

    async def test_integration_without_scope_gets_403(
        self, client: httpx.AsyncClient, tokens: TokenFactory
    ) -> None:
        token = tokens.mint(uniq("client"), ["integration"], "municipal")
        r = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        forbidden(r)

    async def test_token_without_known_roles_gets_403(
        self, client: httpx.AsyncClient, tokens: TokenFactory
    ) -> None:
        token = tokens.mint(uniq("nobody"), ["superuser", "root"], "org-a")
        forbidden(await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}))

    async def test_me_lists_my_teams(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        member = await make_actor("police")
        team = (await create_team(client, admin, member.org_id, name="Marak Test")).json()
        added = await client.post(
            f"{API}/teams/{team['id']}/members",
            json={"user_id": str(member.id), "team_role": "coordinator"},
            headers=admin.headers,
        )
        assert added.status_code == 201
        body = (await client.get(f"{API}/me", headers=member.headers)).json()
        assert body["teams"] == [
            {"id": team["id"], "name": "Marak Test", "kind": "marak", "team_role": "coordinator"}
        ]


class TestJustInTimeRegistration:
    async def test_unknown_org_and_user_are_registered_and_audited(
        self, client: httpx.AsyncClient, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        code, sub = uniq("new-org"), uniq("new-user")
        token = tokens.mint(
            sub, ["social_worker"], code, org_name="New Org Oy", name="Uusi Käyttäjä"
        )
        r = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["subject"] == sub
        assert body["name"] == "Uusi Käyttäjä"
        assert body["organisation"]["code"] == code
        assert body["organisation"]["name"] == "New Org Oy"
        assert body["organisation"]["kind"] == "other"

        user = await db.scalar(select(User).where(User.subject == sub))
        org = await db.scalar(select(Organisation).where(Organisation.code == code))
        assert user is not None and org is not None
        assert user.organisation_id == org.id
        assert user.roles == ["social_worker"]
        events = (
            await db.scalars(
                select(AuditEvent).where(AuditEvent.target_id.in_([str(user.id), str(org.id)]))
            )
        ).all()
        assert sorted((e.action, e.target_type, e.target_id, e.outcome) for e in events) == [
            ("directory.organisation.registered", "organisation", str(org.id), "allowed"),
            ("directory.user.registered", "user", str(user.id), "allowed"),
        ]

    async def test_second_request_registers_nothing_new(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        actor = await make_actor("police")
        before = len((await db.scalars(select(AuditEvent))).all())
        assert (await client.get(f"{API}/me", headers=actor.headers)).status_code == 200
        after = (await db.scalars(select(AuditEvent))).all()
        assert len(after) == before
        users = (await db.scalars(select(User).where(User.subject == actor.sub))).all()
        assert len(users) == 1

    async def test_changed_claims_are_mirrored_and_audited(
        self, client: httpx.AsyncClient, make_actor: Any, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        actor = await make_actor("police", org="org-old")
        # Name and roles are mirrored; the organisation is pinned
        # (tests/security/test_org_pinning.py).
        token = tokens.mint(actor.sub, ["police", "coordinator"], "org-old", name="Renamed")
        r = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.json()["organisation"]["code"] == "org-old"
        user = await db.get(User, actor.id)
        assert user is not None
        await db.refresh(user)
        assert (user.name, sorted(user.roles)) == ("Renamed", ["coordinator", "police"])
        mirrored = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "directory.user.mirrored",
                    AuditEvent.target_id == str(actor.id),
                )
            )
        ).all()
        assert len(mirrored) == 1

    @pytest.mark.parametrize("org", ["", "Has Spaces", "UPPER", "x" * 65, 42])
    async def test_invalid_org_claim_gets_401(
        self, client: httpx.AsyncClient, tokens: TokenFactory, db: AsyncSession, org: Any
    ) -> None:
        sub = uniq("bad-org")
        token = tokens.mint(sub, ["police"], org)
        r = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(r, 401)
        assert await db.scalar(select(User).where(User.subject == sub)) is None


# --- organisations ---------------------------------------------------------------


class TestListOrganisations:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.get(f"{API}/organisations", headers=actor.headers)
        if role in ORG_READERS:
            assert r.status_code == 200
            assert actor.org in [o["code"] for o in r.json()["items"]]
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
        if role in ADMINS:
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
        if role in ORG_READERS:
            assert r.status_code == 200
            assert r.json()["code"] == actor.org
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
        if role in ADMINS:
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


# --- users -------------------------------------------------------------------------


class TestListUsers:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_user_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        r = await client.get(
            f"{API}/users", params={"organisation_id": str(actor.org_id)}, headers=actor.headers
        )
        if role in USER_READERS:
            assert r.status_code == 200
            assert [u["id"] for u in r.json()["items"]] == [str(actor.id)]
        else:
            forbidden(r)

    async def test_filters_by_organisation_and_disabled(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        org = uniq("staff")
        active = await make_actor("police", org=org)
        leaver = await make_actor("police", org=org)
        await make_actor("police")  # another organisation
        etag = (await client.get(f"{API}/users/{leaver.id}", headers=admin.headers)).headers["etag"]
        disabled = await client.patch(
            f"{API}/users/{leaver.id}",
            json={"disabled": True},
            headers={**admin.headers, "If-Match": etag},
        )
        assert disabled.status_code == 200

        async def ids(**params: Any) -> set[str]:
            r = await client.get(f"{API}/users", params=params, headers=admin.headers)
            assert r.status_code == 200
            return {u["id"] for u in r.json()["items"]}

        org_id = str(active.org_id)
        assert await ids(organisation_id=org_id) == {str(active.id), str(leaver.id)}
        assert await ids(organisation_id=org_id, disabled="true") == {str(leaver.id)}
        assert await ids(organisation_id=org_id, disabled="false") == {str(active.id)}

    async def test_pages_newest_first(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        org = uniq("paged")
        made = [await make_actor("youth_worker", org=org) for _ in range(3)]
        params: dict[str, Any] = {"organisation_id": str(made[0].org_id), "limit": 2}
        first = (await client.get(f"{API}/users", params=params, headers=admin.headers)).json()
        second = (
            await client.get(
                f"{API}/users",
                params={**params, "cursor": first["next_cursor"]},
                headers=admin.headers,
            )
        ).json()
        assert second["next_cursor"] is None
        ids = [u["id"] for u in first["items"] + second["items"]]
        assert ids == [str(a.id) for a in reversed(made)]

    async def test_listing_is_audited(
        self, client: httpx.AsyncClient, admin: Any, db: AsyncSession
    ) -> None:
        await client.get(f"{API}/users", headers=admin.headers)
        rows = (await db.scalars(select(AuditEvent).where(AuditEvent.actor_id == admin.id))).all()
        assert [(r.action, r.outcome) for r in rows] == [("directory.users.listed", "allowed")]


class TestGetUser:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_user_readers_get_200_others_403(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        subject = await make_actor("police")
        r = await client.get(f"{API}/users/{subject.id}", headers=actor.headers)
        if role in USER_READERS:
            assert r.status_code == 200
            assert r.json()["subject"] == subject.sub
            assert r.headers["etag"] == f'"{r.json()["version"]}"'
            read = await db.scalar(
                select(AuditEvent).where(
                    AuditEvent.actor_id == actor.id, AuditEvent.action == "directory.user.read"
                )
            )
            assert read is not None and read.target_id == str(subject.id)
        else:
            forbidden(r)

    async def test_unknown_id_gets_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        assert_problem(await client.get(f"{API}/users/{uuid.uuid4()}", headers=admin.headers), 404)


class TestUpdateUser:
    @pytest.mark.parametrize("role", ALL_ROLES)
    async def test_admin_disables_others_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, role: str
    ) -> None:
        actor = await actor_as(make_actor, role)
        subject = await make_actor("police")
        etag = (await client.get(f"{API}/users/{subject.id}", headers=admin.headers)).headers[
            "etag"
        ]
        r = await client.patch(
            f"{API}/users/{subject.id}",
            json={"disabled": True},
            headers={**actor.headers, "If-Match": etag},
        )
        after = (await client.get(f"{API}/users/{subject.id}", headers=admin.headers)).json()
        if role in ADMINS:
            assert r.status_code == 200, r.text
            assert after["disabled"] is True
        else:
            forbidden(r)
            assert after["disabled"] is False
            assert (await client.get(f"{API}/me", headers=subject.headers)).status_code == 200

    async def test_disable_and_revoke_are_audited(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, db: AsyncSession
    ) -> None:
        subject = await make_actor("police")
        etag = (await client.get(f"{API}/users/{subject.id}", headers=admin.headers)).headers[
            "etag"
        ]
        r = await client.patch(
            f"{API}/users/{subject.id}",
            json={"disabled": True, "tokens_valid_after": datetime.now(UTC).isoformat()},
            headers={**admin.headers, "If-Match": etag},
        )
        assert r.status_code == 200
        rows = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.actor_id == admin.id, AuditEvent.target_id == str(subject.id)
                )
            )
        ).all()
        assert {r.action for r in rows} >= {
            "directory.user.disabled",
            "directory.user.tokens_revoked",
        }

    async def test_missing_if_match_gets_428(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        subject = await make_actor("police")
        r = await client.patch(
            f"{API}/users/{subject.id}", json={"disabled": True}, headers=admin.headers
        )
        assert_problem(r, 428)

    async def test_stale_if_match_gets_412_and_current_gets_200(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        subject = await make_actor("police")
        url = f"{API}/users/{subject.id}"
        etag = (await client.get(url, headers=admin.headers)).headers["etag"]
        first = await client.patch(
            url, json={"disabled": True}, headers={**admin.headers, "If-Match": etag}
        )
        assert first.status_code == 200
        assert first.headers["etag"] != etag
        stale = await client.patch(
            url, json={"disabled": False}, headers={**admin.headers, "If-Match": etag}
        )
        assert_problem(stale, 412)
        current = await client.patch(
            url,
            json={"disabled": False},
            headers={**admin.headers, "If-Match": first.headers["etag"]},
        )
        assert current.status_code == 200
        assert current.json()["disabled"] is False

    async def test_naive_tokens_valid_after_gets_422(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        subject = await make_actor("police")
        r = await client.patch(
            f"{API}/users/{subject.id}",
            json={"tokens_valid_after": "2030-01-01T00:00:00"},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        assert_problem(r, 422)

    async def test_only_admin_fields_can_change(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any
    ) -> None:
        subject = await make_actor("police")
        r = await client.patch(
            f"{API}/users/{subject.id}",
            json={"roles": ["admin"], "name": "Someone else"},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        body = assert_problem(r, 422)
        # organisation_id is an admin field now (moving a user; tests/security/test_org_pinning.py)
        assert {e["field"] for e in body["errors"]} == {"roles", "name"}

    async def test_the_users_own_activity_does_not_change_the_etag(
        self, client: httpx.AsyncClient, make_actor: Any, admin: Any, db: AsyncSession
    ) -> None:
        """Being seen (last_seen_at) is bookkeeping, not an edit an admin could lose."""
        subject = await make_actor("police")
        await db.execute(
            update(User)
            .where(User.id == subject.id)
            .values(last_seen_at=datetime.now(UTC) - timedelta(days=1)),
            execution_options={"synchronize_session": False},
        )
        await db.commit()
        url = f"{API}/users/{subject.id}"
        etag = (await client.get(url, headers=admin.headers)).headers["etag"]
        assert (await client.get(f"{API}/me", headers=subject.headers)).status_code == 200
        seen = (await client.get(url, headers=admin.headers)).json()
        assert datetime.fromisoformat(seen["last_seen_at"]) > datetime.now(UTC) - timedelta(
            minutes=1
        )
        r = await client.patch(
            url, json={"disabled": True}, headers={**admin.headers, "If-Match": etag}
        )
        assert r.status_code == 200, r.text


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
        if role in TEAM_READERS:
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
        if role in TEAM_MANAGERS:
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
        if role in TEAM_READERS:
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
        if role in TEAM_MANAGERS:
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
        if role in TEAM_READERS:
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
        if role in TEAM_MANAGERS:
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
        if role in TEAM_MANAGERS:
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

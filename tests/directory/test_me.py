"""/me for every role and just-in-time registration from the token's claims."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.directory.models import Organisation, User
from tests.directory.helpers import (
    ALL_ROLES,
    API,
    actor_as,
    create_team,
    forbidden,
    uniq,
)
from tests.problems import assert_problem
from tests.world import TokenFactory

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

    async def test_integration_without_scope_reads_only_itself(
        self, client: httpx.AsyncClient, tokens: TokenFactory
    ) -> None:
        token = tokens.mint(uniq("client"), ["integration"], "municipal")
        headers = {"Authorization": f"Bearer {token}"}
        r = await client.get(f"{API}/me", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["scopes"] == []
        forbidden(await client.get(f"{API}/referrals", headers=headers))

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


class TestGetMe:
    async def test_valid_token_gets_200_and_registers_user(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("police", "coordinator", org="poliisi-x")
        r = await client.get("/api/v1/me", headers=actor.headers)
        assert r.status_code == 200
        body = r.json()
        assert body["organisation"]["code"] == "poliisi-x"
        assert body["roles"] == ["coordinator", "police"]
        assert body["teams"] == []

    async def test_no_token_gets_401_problem(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/me")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")

"""A user's organisation is pinned at registration: the ``org`` claim cannot move them.

A validly signed token whose ``org`` disagrees with the directory is refused
(401, audited individually) until an admin moves the user with
PATCH /api/v1/users/{id} {"organisation_id": ...}.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from app.directory.models import Organisation, User
from tests.problems import assert_problem
from tests.referrals.conftest import ReferralWorld, build_referral_world, sent
from tests.world import TokenFactory, denied

API = "/api/v1"


def bearer(tokens: TokenFactory, sub: str, roles: list[str], org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(sub, roles, org)}"}


async def admin_move(
    client: httpx.AsyncClient, admin: Any, user_id: uuid.UUID, org_id: uuid.UUID | str
) -> httpx.Response:
    current = await client.get(f"{API}/users/{user_id}", headers=admin.headers)
    assert current.status_code == 200, current.text
    return await client.patch(
        f"{API}/users/{user_id}",
        json={"organisation_id": str(org_id)},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )


async def denials(db: AsyncSession, user_id: uuid.UUID) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "auth.user", AuditEvent.target_id == str(user_id)
        )
    )
    return list(rows.all())


class TestReferralScenario:
    async def test_provider_of_b_claiming_org_a_cannot_read_the_referral_sent_to_a(
        self, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
    ) -> None:
        rw: ReferralWorld = await build_referral_world(db, tokens)
        referral = await sent(client, rw)  # to rw.service, of rw.provider_org ("A")
        url = f"{API}/referrals/{referral['id']}"
        assert (await client.get(url, headers=rw.provider.headers)).status_code == 200
        # The provider of organisation B can't see it ...
        assert_problem(await client.get(url, headers=rw.other_provider.headers), 404)
        # ... and a validly signed token of the same user that claims A is refused.
        forged = bearer(tokens, rw.other_provider.sub, ["service_provider"], rw.provider_org.code)
        r = await client.get(url, headers=forged)
        body = assert_problem(r, 401)
        assert "organisation" in body["detail"]
        assert_problem(await client.get(f"{API}/referrals", headers=forged), 401)
        rows = await denials(db, rw.other_provider.id)
        assert [(row.outcome, row.reason) for row in rows] == [
            ("denied", "401:organisation mismatch")
        ] * 2  # each refusal of a known user is its own audit row
        user = await db.get(User, rw.other_provider.id)
        assert user is not None
        await db.refresh(user)
        assert user.organisation_id == rw.other_org.id  # not moved
        # The genuine token of B still works.
        assert (await client.get(f"{API}/me", headers=rw.other_provider.headers)).status_code == 200


class TestPinnedAtRegistration:
    async def test_new_org_claim_is_refused_and_registers_no_organisation(
        self, client: httpx.AsyncClient, make_actor: Any, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        actor = await make_actor("police", org="org-a")
        code = f"org-{uuid.uuid4().hex[:8]}"
        r = await client.get(f"{API}/me", headers=bearer(tokens, actor.sub, ["police"], code))
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert await db.scalar(select(Organisation).where(Organisation.code == code)) is None
        assert len(await denials(db, actor.id)) == 1


class TestAdminMovesAUser:
    async def test_admin_moves_then_only_the_new_org_is_accepted(
        self, client: httpx.AsyncClient, make_actor: Any, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        admin = await make_actor("admin", org="ops")
        target = await make_actor("social_worker", org="org-a")
        other = await make_actor("police", org="org-b")
        r = await admin_move(client, admin, target.id, other.org_id)
        assert r.status_code == 200, r.text
        assert r.json()["organisation_id"] == str(other.org_id)
        assert_problem(await client.get(f"{API}/me", headers=target.headers), 401)
        moved = bearer(tokens, target.sub, ["social_worker"], "org-b")
        me = await client.get(f"{API}/me", headers=moved)
        assert me.status_code == 200, me.text
        assert me.json()["organisation"]["code"] == "org-b"
        rows = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "directory.user.organisation_moved",
                    AuditEvent.target_id == str(target.id),
                )
            )
        ).all()
        assert [row.actor_id for row in rows] == [admin.id]

    async def test_unknown_organisation_gets_422(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin", org="ops")
        target = await make_actor("police", org="org-a")
        r = await admin_move(client, admin, target.id, uuid.uuid4())
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "organisation_id"

    async def test_only_admin_may_move(
        self, client: httpx.AsyncClient, make_actor: Any, db: AsyncSession
    ) -> None:
        target = await make_actor("police", org="org-a")
        other = await make_actor("police", org="org-b")
        for role in denied(Action.USER_MANAGE):
            caller = await make_actor(role, org="org-a", scope="me.read user.manage")
            r = await client.patch(
                f"{API}/users/{target.id}",
                json={"organisation_id": str(other.org_id)},
                headers={**caller.headers, "If-Match": '"1"'},
            )
            assert_problem(r, 403)
        user = await db.get(User, target.id)
        assert user is not None
        await db.refresh(user)
        assert user.organisation_id == target.org_id

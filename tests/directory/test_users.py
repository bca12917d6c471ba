"""Users: who may list, read and disable them; paging, filters, ETags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from app.directory.models import User
from tests.directory.helpers import (
    ALL_ROLES,
    API,
    actor_as,
    forbidden,
    uniq,
)
from tests.problems import assert_problem
from tests.world import allowed

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
        if role in allowed(Action.USER_READ):
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
        if role in allowed(Action.USER_READ):
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
        if role in allowed(Action.USER_MANAGE):
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

"""Shared helpers of the directory route tests (tests/directory/test_*.py).

Every directory route is exercised for every role: the roles POLICY allows
(app/auth/policy.py, read through tests.world.allowed) succeed and the rest get
403 problem+json and change nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.principal import Role
from tests.problems import assert_problem

API = "/api/v1"
ALL_ROLES = [r.value for r in Role]


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

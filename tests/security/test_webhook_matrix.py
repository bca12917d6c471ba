"""Role x webhook route, with expectations GENERATED from the POLICY table.

Every route under /api/v1/webhooks and /api/v1/webhook-deliveries is called by
every role of the endpoint's organisation:

- a role in the action's POLICY row (an integration client holding the action's
  scope from INTEGRATION_SCOPES) is let through: 2xx;
- any other role, and an integration client without the scope -> 403 problem;
- the same allowed roles of *another* organisation -> 404 on the object routes
  and an empty list on the lists.

A webhook route missing here fails :func:`test_every_webhook_route_is_in_the_matrix`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import INTEGRATION_SCOPES, POLICY, Action
from app.auth.principal import Role
from app.directory.models import Organisation
from app.events.models import OutboxEvent
from app.webhooks.models import WebhookDelivery
from tests.problems import assert_problem
from tests.routes import api_routes
from tests.world import Actor, TokenFactory, make_org, make_user, short

API = "/api/v1"
PUBLIC = "https://93.184.215.14/hooks"


@dataclass
class Target:
    webhook_id: str
    etag: str
    delivery_id: str


@dataclass
class Route:
    action: Action
    method: str
    path: str
    body: Callable[[], dict[str, Any] | None] = lambda: None
    object_route: bool = True


ROUTES = [
    Route(Action.WEBHOOK_LIST, "GET", "/webhooks", object_route=False),
    Route(
        Action.WEBHOOK_CREATE,
        "POST",
        "/webhooks",
        lambda: {"url": PUBLIC, "event_types": ["case.created"]},
        object_route=False,
    ),
    Route(Action.WEBHOOK_MANAGE, "GET", "/webhooks/{webhook_id}"),
    Route(Action.WEBHOOK_MANAGE, "PATCH", "/webhooks/{webhook_id}", lambda: {"description": "x"}),
    Route(Action.WEBHOOK_MANAGE, "POST", "/webhooks/{webhook_id}/secret"),
    Route(Action.WEBHOOK_MANAGE, "DELETE", "/webhooks/{webhook_id}"),
    Route(Action.WEBHOOK_DELIVERY_LIST, "GET", "/webhook-deliveries", object_route=False),
    Route(Action.WEBHOOK_REDELIVER, "POST", "/webhook-deliveries/{delivery_id}/redelivery"),
]


async def actor_of(db: AsyncSession, tokens: TokenFactory, org: Organisation, role: str) -> Actor:
    actor = await make_user(db, tokens, org, role)
    if role == Role.INTEGRATION:
        token = tokens.mint(actor.sub, [role], org.code, scope="webhooks:manage")
        actor.headers = {"Authorization": f"Bearer {token}"}
    return actor


async def arrange(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> tuple[Organisation, Target]:
    org = await make_org(db, "social_services")
    admin = await make_user(db, tokens, org, "admin")
    await db.commit()
    r = await client.post(
        f"{API}/webhooks",
        json={"url": PUBLIC, "event_types": ["case.created"]},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    event = OutboxEvent(
        id=uuid.uuid4(), type="case.created", target_type="case", target_id=uuid.uuid4()
    )
    db.add(event)
    await db.flush()
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=uuid.UUID(hook["id"]),
        organisation_id=org.id,
        event_id=event.id,
        event_type=event.type,
        status="dead",
        attempts=10,
    )
    db.add(delivery)
    await db.commit()
    return org, Target(hook["id"], r.headers["etag"], str(delivery.id))


def _url(route: Route, target: Target) -> str:
    path = route.path.format(webhook_id=target.webhook_id, delivery_id=target.delivery_id)
    return f"{API}{path}"


async def _call(
    client: httpx.AsyncClient, route: Route, target: Target, actor: Actor
) -> httpx.Response:
    headers = {**actor.headers, "If-Match": target.etag, "Idempotency-Key": short()}
    return await client.request(
        route.method, _url(route, target), json=route.body(), headers=headers
    )


def cases() -> list[tuple[Route, str]]:
    return [(route, role.value) for route in ROUTES for role in Role]


@pytest.mark.parametrize(("route", "role"), cases(), ids=lambda v: getattr(v, "path", v))
async def test_role_matrix(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, route: Route, role: str
) -> None:
    org, target = await arrange(client, db, tokens)
    actor = await actor_of(db, tokens, org, role)
    await db.commit()
    r = await _call(client, route, target, actor)
    if Role(role) in POLICY[route.action][0]:
        assert r.status_code < 300, (route.method, route.path, role, r.text)
    else:
        assert_problem(r, 403)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("role", sorted(r.value for r in POLICY[Action.WEBHOOK_LIST][0]))
async def test_another_organisation_sees_nothing(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, route: Route, role: str
) -> None:
    _org, target = await arrange(client, db, tokens)
    stranger = await actor_of(db, tokens, await make_org(db, "police"), role)
    await db.commit()
    r = await _call(client, route, target, stranger)
    if route.object_route:
        assert_problem(r, 404)
    elif route.method == "GET":
        assert r.status_code == 200 and r.json()["items"] == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_an_integration_client_without_the_scope_gets_403(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, route: Route
) -> None:
    org, target = await arrange(client, db, tokens)
    actor = await make_user(db, tokens, org, "integration")
    await db.commit()
    token = tokens.mint(actor.sub, ["integration"], org.code, scope="events:read referrals:read")
    actor.headers = {"Authorization": f"Bearer {token}"}
    assert_problem(await _call(client, route, target, actor), 403)
    assert INTEGRATION_SCOPES[route.action].value == "webhooks:manage"


def test_every_webhook_route_is_in_the_matrix(app: Any) -> None:
    served = {
        (m, r.path)
        for r in api_routes(app)
        if r.path.startswith((f"{API}/webhook",))
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert served == {(r.method, f"{API}{r.path}") for r in ROUTES}

"""Allow and deny, route by route and role by role, from the policy table (tests/world.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from tests.access_requests.conftest import BASE, Scene, approved, proposed, recorded
from tests.problems import assert_problem
from tests.security.matrix import assert_matrix_covers, expected_status
from tests.world import allowed, denied

CREATE_BODY = {
    "requester_kind": "person",
    "identity_verification": "in_person_identity_document",
    "received_on": "2026-01-05",
}

#: (method, path, action, the request's state it needs, body, status when allowed)
ROUTES: list[tuple[str, str, Action, str, dict[str, Any] | None, int]] = [
    ("POST", BASE, Action.ACCESS_REQUEST_CREATE, "none", CREATE_BODY, 201),
    ("GET", BASE, Action.ACCESS_REQUEST_LIST, "none", None, 200),
    ("GET", BASE + "/{id}", Action.ACCESS_REQUEST_READ, "recorded", None, 200),
    ("POST", BASE + "/{id}/approval", Action.ACCESS_REQUEST_DECIDE, "recorded", {}, 200),
    (
        "POST",
        BASE + "/{id}/refusal",
        Action.ACCESS_REQUEST_DECIDE,
        "recorded",
        {"ground": "identity_not_established"},
        200,
    ),
    (
        "POST",
        BASE + "/{id}/extension",
        Action.ACCESS_REQUEST_DECIDE,
        "recorded",
        {"reason": "number_of_requests"},
        200,
    ),
    (
        "POST",
        BASE + "/{id}/extension/confirmation",
        Action.ACCESS_REQUEST_DECIDE,
        "proposed",
        None,
        200,
    ),
    ("GET", BASE + "/{id}/export.json", Action.ACCESS_REQUEST_EXPORT, "approved", None, 200),
    ("GET", BASE + "/{id}/export.pdf", Action.ACCESS_REQUEST_EXPORT, "approved", None, 200),
]


def cases(pick: Callable[[Action], list[str]]) -> list[Any]:
    return [
        pytest.param(method, path, action, state, body, status, role, id=f"{method} {path} {role}")
        for method, path, action, state, body, status in ROUTES
        for role in pick(action)
    ]


async def _call(
    client: httpx.AsyncClient,
    scene: Scene,
    method: str,
    path: str,
    state: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> tuple[httpx.Response, str | None]:
    request: dict[str, Any] | None = None
    if state == "recorded":
        request = await recorded(client, scene)
    elif state == "approved":
        request = await approved(client, scene)
    elif state == "proposed":
        request = await proposed(client, scene)
    url = path.format(id=request["id"]) if request else path
    extra = {"If-Match": f'"{request["version"]}"'} if request and method == "POST" else {}
    if method == "POST" and request is None:
        extra = {"Idempotency-Key": uuid.uuid4().hex}
        body = {**(body or {}), "person_id": scene.subject_id}
    response = await client.request(method, url, json=body, headers={**headers, **extra})
    return response, request["id"] if request else None


@pytest.mark.parametrize(
    ("method", "path", "action", "state", "body", "status", "role"), cases(allowed)
)
async def test_allowed_roles_may(
    client: httpx.AsyncClient,
    make_actor: Any,
    scene: Scene,
    method: str,
    path: str,
    action: Action,
    state: str,
    body: dict[str, Any] | None,
    status: int,
    role: str,
) -> None:
    actor = await make_actor(role, org=scene.world.other.code)
    response, _id = await _call(client, scene, method, path, state, body, actor.headers)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("method", "path", "action", "state", "body", "status", "role"), cases(denied)
)
async def test_denied_roles_get_403_and_the_denial_is_audited(
    client: httpx.AsyncClient,
    db: AsyncSession,
    make_actor: Any,
    scene: Scene,
    method: str,
    path: str,
    action: Action,
    state: str,
    body: dict[str, Any] | None,
    status: int,
    role: str,
) -> None:
    actor = await make_actor(role, org=scene.world.other.code)
    response, _id = await _call(client, scene, method, path, state, body, actor.headers)
    assert_problem(response, 403)
    denial = await db.scalar(
        select(AuditEvent).where(AuditEvent.actor_id == actor.id, AuditEvent.outcome == "denied")
    )
    assert denial is not None and denial.action == str(action)


def test_every_access_request_route_is_in_the_matrix(app: Any) -> None:
    @dataclass
    class Spec:
        method: str
        path: str
        action: Action

    specs = [Spec(m, p.replace("{id}", "{request_id}"), a) for m, p, a, *_rest in ROUTES]
    assert_matrix_covers(app, lambda path: path.startswith(BASE), specs)


@pytest.mark.parametrize(
    ("method", "path", "action", "state", "body", "status", "role"), cases(allowed)
)
async def test_another_organisations_auditor_gets_what_the_relation_says(
    client: httpx.AsyncClient,
    make_actor: Any,
    scene: Scene,
    method: str,
    path: str,
    action: Action,
    state: str,
    body: dict[str, Any] | None,
    status: int,
    role: str,
) -> None:
    """The request is handled by the recorder's organisation: an allowed role of another
    organisation gets the status the POLICY relation derives (404 for a request, never 403),
    and a list without the request."""
    actor = await make_actor(role)  # the world's owner organisation, not the recorder's
    response, _id = await _call(client, scene, method, path, state, body, actor.headers)
    want = expected_status(action, role, "other_org", status)
    assert response.status_code == want, response.text
    if want == 404:
        assert_problem(response, 404)
    if action == Action.ACCESS_REQUEST_LIST:
        await recorded(client, scene)
        listed = await client.get(BASE, headers=actor.headers)
        assert listed.json()["items"] == []

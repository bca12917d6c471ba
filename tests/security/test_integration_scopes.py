"""Integration clients are limited by coarse scopes, action by action (issue 14, section 6).

Generated from app/auth/policy.py: every action the INTEGRATION role may take names
exactly one scope (INTEGRATION_SCOPES) or says why it needs none (SCOPE_FREE); a
client holding that scope passes the role gate, and one holding only the other
scopes gets an audited 403, like any other refusal.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import INTEGRATION_SCOPES, POLICY, SCOPE_FREE, Action, Scope, is_allowed
from app.auth.principal import Principal, Role
from tests.problems import assert_problem
from tests.routes import api_routes, declared_actions
from tests.world import TokenFactory, make_org, make_user

INTEGRATION_ACTIONS = sorted(a for a, (roles, _rel) in POLICY.items() if Role.INTEGRATION in roles)
SCOPED = sorted(INTEGRATION_SCOPES.items())
EVERY_SCOPE = frozenset(str(s) for s in Scope)


def principal(*roles: Role, scopes: frozenset[str] = frozenset()) -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        subject="client",
        name="A client",
        organisation_id=uuid.uuid4(),
        organisation_code="org-a",
        roles=frozenset(roles),
        scopes=scopes,
    )


# --- the table itself ----------------------------------------------------------------------


@pytest.mark.parametrize("action", INTEGRATION_ACTIONS)
def test_every_integration_action_names_exactly_one_scope(action: Action) -> None:
    scoped, free = action in INTEGRATION_SCOPES, action in SCOPE_FREE
    assert scoped != free, f"{action}: allowed to INTEGRATION, so map it to one Scope"


def test_no_scope_is_mapped_to_an_action_integration_may_not_take() -> None:
    stale = set(INTEGRATION_SCOPES) | set(SCOPE_FREE)
    assert stale <= set(INTEGRATION_ACTIONS)


def test_the_scopes_are_the_issues_coarse_scopes() -> None:
    assert EVERY_SCOPE == {
        "referrals:read",
        "referrals:write",
        "concerns:write",
        "events:read",
        "webhooks:manage",
    }


# --- the decision, for every action ---------------------------------------------------------


@pytest.mark.parametrize(("action", "scope"), SCOPED)
def test_the_right_scope_allows_and_the_others_do_not(action: Action, scope: Scope) -> None:
    assert is_allowed(principal(Role.INTEGRATION, scopes=frozenset({str(scope)})), action)
    others = EVERY_SCOPE - {str(scope)}
    assert not is_allowed(principal(Role.INTEGRATION, scopes=others), action)
    assert not is_allowed(principal(Role.INTEGRATION), action)
    # The old fine-grained scope (the action's own name) grants nothing any more.
    assert not is_allowed(principal(Role.INTEGRATION, scopes=frozenset({str(action)})), action)


@pytest.mark.parametrize("action", sorted(set(POLICY) - set(INTEGRATION_ACTIONS)))
def test_no_scope_opens_an_action_integration_may_not_take(action: Action) -> None:
    assert not is_allowed(principal(Role.INTEGRATION, scopes=EVERY_SCOPE), action)


def test_unknown_scopes_are_ignored() -> None:
    noisy = frozenset({"openid", "profile", "referrals:read", "referrals:*", "admin"})
    client = principal(Role.INTEGRATION, scopes=noisy)
    assert is_allowed(client, Action.REFERRAL_LIST)
    assert not is_allowed(client, Action.REFERRAL_TRANSITION)
    assert not is_allowed(client, Action.USER_MANAGE)


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.INTEGRATION}))
def test_scopes_on_another_principal_grant_nothing(role: Role) -> None:
    plain, scoped = principal(role), principal(role, scopes=EVERY_SCOPE)
    for action in POLICY:
        assert is_allowed(plain, action) == is_allowed(scoped, action), (role, action)


# --- over HTTP: one route per scoped action ---------------------------------------------------


def _route_of(app: Any, action: Action) -> APIRoute:
    """A route that declares ``action`` (and no other action)."""
    for route in api_routes(app):
        if declared_actions(route.dependant) == [str(action)]:
            return route
    raise AssertionError(f"no route declares {action} alone")


def _call(route: APIRoute) -> tuple[str, str]:
    method = sorted(route.methods - {"HEAD", "OPTIONS"})[0]
    return method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)


async def _client_with(
    db: AsyncSession, tokens: TokenFactory, scopes: set[str]
) -> tuple[Any, dict[str, str]]:
    org = await make_org(db, "social_services")
    actor = await make_user(db, tokens, org, "integration")
    await db.commit()
    token = tokens.mint(actor.sub, ["integration"], org.code, scope=" ".join(sorted(scopes)))
    return actor, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("action", "scope"), SCOPED)
async def test_over_http_the_scope_opens_the_route_and_the_others_get_an_audited_403(
    client: httpx.AsyncClient,
    app: Any,
    db: AsyncSession,
    tokens: TokenFactory,
    action: Action,
    scope: Scope,
) -> None:
    method, path = _call(_route_of(app, action))
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    actor, headers = await _client_with(db, tokens, set(EVERY_SCOPE - {str(scope)}))
    r = await client.request(method, path, json=body, headers={**headers, "If-Match": '"1"'})
    assert_problem(r, 403)
    denials = await db.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == actor.id, AuditEvent.outcome == "denied")
    )
    assert [(e.action, e.reason) for e in denials] == [(str(action), "403:scope")]
    _, headers = await _client_with(db, tokens, {str(scope)})
    r = await client.request(method, path, json=body, headers={**headers, "If-Match": '"1"'})
    assert r.status_code != 403, r.text  # past the role gate: 200, 404 or 422 by route

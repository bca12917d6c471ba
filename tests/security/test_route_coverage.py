"""Every route declares its permission; a route without one fails this test."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from app.auth.policy import POLICY
from tests.routes import api_routes, declared_actions, iter_routes, mounts


def test_app_has_only_api_routes_and_the_docs_mount(app: Any) -> None:
    routes: list[BaseRoute] = list(iter_routes(list(app.routes)))
    assert len(api_routes(app)) + len(mounts(app)) == len(routes)
    assert [m.path for m in mounts(app)] == ["/static-docs"]
    assert len(api_routes(app)) > 10


def test_every_route_declares_exactly_one_permission(app: Any) -> None:
    missing, doubled = [], []
    for route in api_routes(app):
        actions = declared_actions(route.dependant)
        if not actions:
            missing.append(f"{sorted(route.methods)} {route.path}")
        elif len(set(actions)) > 1:
            doubled.append(f"{route.path}: {actions}")
    assert not missing, f"routes without a declared permission: {missing}"
    assert not doubled, f"routes with conflicting permissions: {doubled}"


def test_declared_actions_are_in_the_policy_table(app: Any) -> None:
    for route in api_routes(app):
        for action in declared_actions(route.dependant):
            if not action.startswith("public:"):
                assert action in POLICY, f"{route.path} uses unknown action {action}"


def test_public_routes_are_only_operations(app: Any) -> None:
    public = {
        route.path
        for route in api_routes(app)
        if any(a.startswith("public:") for a in declared_actions(route.dependant))
    }
    assert public == {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"}

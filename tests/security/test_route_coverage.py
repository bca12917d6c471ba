"""Every route declares its permission, and its relation through the loader the
policy derives; a route without one fails this test."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from app.auth.policy import BODY_CASE, POLICY, Action, Relation
from tests.routes import (
    api_routes,
    body_fields,
    declared_actions,
    declared_relations,
    iter_routes,
    mounts,
)


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


# --- relations: each route's object rule is its declared loader's ------------------

#: Relations with no object to load: the role decides, or a list's query filters.
UNLOADED = {Relation.NONE, Relation.LISTED}
#: Routes whose relation is not an object named in the path or a case in the body,
#: and where it is enforced instead. The list is exact: a stale entry fails too.
ENFORCED_ELSEWHERE: dict[tuple[str, str], str] = {}


def _route_keys(route: Any) -> list[tuple[str, str]]:
    return [(m, route.path) for m in sorted(route.methods - {"HEAD", "OPTIONS"})]


def _names_it(route: Any, where: str) -> bool:
    kind, _, name = where.partition(":")
    if kind == "path":
        return "{" + name + "}" in route.path
    return name in body_fields(route.dependant)


def test_every_relation_is_enforced_by_the_declared_dependency(app: Any) -> None:
    """The POLICY row's relation for the route's action is declared by one of its
    dependencies (a loader derived from the same row), on an object the route names."""
    undeclared, elsewhere = [], set()
    for route in api_routes(app):
        (action,) = set(declared_actions(route.dependant))
        if action.startswith("public:"):
            continue
        _roles, relation = POLICY[Action(action)]
        if relation in UNLOADED:
            continue
        triples = declared_relations(route.dependant)
        if any(
            a == action and r == relation and _names_it(route, where) for a, where, r in triples
        ):
            continue
        keys = _route_keys(route)
        if all(key in ENFORCED_ELSEWHERE for key in keys):
            elsewhere.update(keys)
        else:
            undeclared.append(f"{keys} {action} needs {relation}")
    assert not undeclared, "relations enforced by hand: " + "; ".join(undeclared)
    assert elsewhere == set(ENFORCED_ELSEWHERE), "stale: " + str(
        set(ENFORCED_ELSEWHERE) - elsewhere
    )


def test_a_case_named_in_a_path_or_body_is_loaded_by_the_policy_loader(app: Any) -> None:
    """``{case_id}`` in a path, or ``case_id`` in a body, is loaded by the loader the
    POLICY (or ``BODY_CASE``) row of the route's action derives, and every
    ``BODY_CASE`` row serves a route."""
    missing, body_actions = [], set()
    for route in api_routes(app):
        (action,) = set(declared_actions(route.dependant))
        triples = declared_relations(route.dependant)
        if "{case_id}" in route.path and _route_keys(route)[0] not in ENFORCED_ELSEWHERE:
            want = (action, "path:case_id", POLICY[Action(action)][1])
            if want not in triples:
                missing.append(f"{route.path}: {want}")
        if "case_id" in body_fields(route.dependant):
            body_actions.add(action)
            relation = BODY_CASE.get(Action(action))
            if relation is None or (action, "body:case_id", relation) not in triples:
                missing.append(f"{route.path}: body case_id of {action}")
    assert not missing, missing
    assert body_actions == {str(a) for a in BODY_CASE}

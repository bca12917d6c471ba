"""The one engine of the generated role x route x relation matrices.

Each matrix module (test_case_matrix, test_person_matrix, test_referral_matrix,
test_team_matrix) lists its routes and arranges the objects; what a role in a
relation *should* get is derived here from the POLICY table alone, so no role
set is ever copied into a test. The vocabulary of the caller's relation:

- to a case: ``lead``, ``member``, ``emergency`` (an active grant), ``same_team``
  (in the case's team, not in the case), ``no_relation`` (same organisation),
  ``other_org``;
- to a team (directory, meetings, concerns): ``in_team``, ``same_org``, ``other_org``.
"""

from __future__ import annotations

from typing import Any

from app.auth.policy import POLICY, RELATION_EXEMPT, Action, Relation
from app.auth.principal import Role
from tests.routes import api_routes, declared_actions

CASE_RELATIONS = ("lead", "member", "emergency", "same_team", "other_org", "no_relation")
TEAM_RELATIONS = ("in_team", "same_org", "other_org")
#: Who reads a case (membership or an active grant), and who writes it.
READERS = frozenset({"lead", "member", "emergency"})
WRITERS = frozenset({"lead", "member"})
#: In the object's team, and in its organisation.
IN_TEAM = frozenset({"lead", "member", "same_team", "in_team"})
SAME_ORG = IN_TEAM | {"no_relation", "same_org"}


def roles_of(action: Action) -> frozenset[Role]:
    """The roles POLICY allows for ``action`` (never a hand-copied set)."""
    return POLICY[action][0]


def expected_status(
    action: Action,
    role: Role,
    relation: str,
    ok: int,
    *,
    outsider: int = 404,
    seen_by: frozenset[str] | None = None,
    sides: tuple[bool, bool] = (False, False),
    reads: bool = False,
) -> int:
    """What POLICY says ``role`` in ``relation`` gets on a route declaring ``action``.

    ``outsider``: the status of a caller without a team relation (404 when the object
    is loaded through the caller's teams, 403 when the body names a team).
    ``seen_by``: for a ``listed`` single read, the relations whose list holds it.
    ``sides``: for a referral, whether the caller is on its (referring, providing)
    side; ``reads``: the route only reads (an emergency holder may).
    """
    roles, rule = POLICY[action]
    if role not in roles:
        return 403
    if rule == Relation.NONE:
        return ok
    if rule == Relation.LISTED:
        return ok if seen_by is None or relation in seen_by else 404
    if rule == Relation.TEAM_MEMBER:
        return ok if relation in IN_TEAM else outsider
    if rule == Relation.OWN_ORGANISATION:
        exempt = role in RELATION_EXEMPT.get(action, frozenset())
        return ok if exempt or relation in SAME_ORG else 403
    if rule == Relation.CONTROLLER:
        return ok if relation in SAME_ORG else 404
    if rule == Relation.CASE_MEMBER:
        return ok if relation in READERS else 404
    if rule == Relation.CASE_WRITER:
        return {"lead": ok, "member": ok, "emergency": 403}.get(relation, 404)
    if rule == Relation.CASE_LEAD:
        return {"lead": ok, "member": 403, "emergency": 403}.get(relation, 404)
    if rule == Relation.CASE_OUTSIDER:
        return 409 if relation in READERS else ok
    referrer, provider = sides
    if rule == Relation.REFERRAL_PARTY:
        if referrer:
            return ok if relation in WRITERS or reads else 403
        return ok if provider else 404
    if rule == Relation.REFERRER:
        if referrer:
            return ok if relation in WRITERS else 403
        return 404
    raise AssertionError(f"the matrix engine does not know relation {rule}; extend it")


def assert_matrix_covers(app: Any, in_scope: Any, specs: list[Any]) -> None:
    """Every route ``in_scope(path)`` has a spec with its declared action, and no
    spec is stale: adding a route without a matrix row fails here."""
    in_app = {}
    for route in api_routes(app):
        if in_scope(route.path):
            for method in route.methods - {"HEAD", "OPTIONS"}:
                in_app[(method, route.path)] = set(declared_actions(route.dependant))
    in_matrix = {(s.method, s.path): s.action for s in specs}
    assert set(in_app) == set(in_matrix), (
        f"missing from the matrix: {sorted(set(in_app) - set(in_matrix))}; "
        f"not in the app: {sorted(set(in_matrix) - set(in_app))}"
    )
    for key, action in in_matrix.items():
        assert in_app[key] == {str(action)}, f"{key} declares {in_app[key]}, matrix says {action}"

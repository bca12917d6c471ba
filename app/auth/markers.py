"""Marks on route dependencies, read by tests/security/test_route_coverage.py.

:func:`app.auth.policy.require` sets :data:`ACTION_ATTR` on the dependency that
checks an action's roles; a loader enforcing an object relation declares it with
:func:`declare_relation`; :func:`public` marks a route that needs no token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from app.auth.policy import Relation

F = TypeVar("F", bound=Callable[..., Any])

#: Set on an action's role-check dependency: the action (or ``public:<reason>``).
ACTION_ATTR = "__casecoord_action__"
#: Set on a loader dependency: the (action, where the object is named, relation)
#: triples it enforces; tests/security/test_route_coverage.py reads them.
RELATION_ATTR = "__casecoord_relation__"


def declare_relation(dependency: Any, action: StrEnum, where: str, relation: Relation) -> None:
    """Mark ``dependency`` as the loader enforcing ``relation`` for ``action`` on the
    object named at ``where`` (``path:case_id``, ``body:case_id``...)."""
    found = getattr(dependency, RELATION_ATTR, ())
    setattr(dependency, RELATION_ATTR, (*found, (str(action), where, relation)))


def relation_of(action: StrEnum, *expected: Relation) -> Relation:
    """The relation POLICY gives ``action``; a loader is built only for the relations
    it enforces (``expected``), so a mismatch fails at import, never at a request."""
    from app.auth.policy import POLICY  # here, not above: policy.py imports this module

    _roles, relation = POLICY[action]  # type: ignore[index]
    if relation not in expected:
        wanted = " or ".join(expected)
        raise RuntimeError(f"{action} has relation {relation}, not {wanted}")
    return relation


def mark_loader(dependency: F, kind: str, action: StrEnum, relation: Relation, *where: str) -> F:
    """Name a loader dependency for its action (``<kind>_for_<action>``) and declare the
    relation it enforces on the object named at each ``where`` (``path:case_id``...)."""
    dependency.__name__ = f"{kind}_for_{str(action).replace('.', '_')}"
    for place in where:
        declare_relation(dependency, action, place, relation)
    return dependency


def public(reason: str) -> Callable[[], Awaitable[None]]:
    """Mark a route as deliberately unauthenticated (health, metrics, docs)."""

    async def dependency() -> None:
        return None

    setattr(dependency, ACTION_ATTR, f"public:{reason}")
    return dependency

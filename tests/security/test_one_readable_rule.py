"""No path decides "may this caller read the case?" on its own.

Membership and emergency grants are turned into visibility in one module,
app/cases/access.py, where the must-not-receive list is part of the rule. A
query elsewhere that filters ``CaseMember.user_id == principal.user_id`` (or the
same on ``EmergencyGrant``) would build its own rule and forget the exclusion,
which is how a break-the-glass grant once read notes of a case that excluded its
holder. This test fails when such a filter appears outside the reviewed places.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

#: Reviewed uses that are not visibility decisions.
ALLOWED = {
    # The rule itself.
    "app/cases/access.py",
    # "Are you already a member?" / "do you already hold a grant?" when breaking the glass.
    "app/cases/emergency.py",
    # The caller's role shown on rows already filtered by readable_cases().
    "app/cases/service.py",
    # Tags the grant id on an already readable person (persons/dependencies.person_reach).
    "app/persons/dependencies.py",
}


def _is_own_filter(node: ast.Compare) -> bool:
    sides = [node.left, *node.comparators]
    text = [ast.unparse(side) for side in sides]
    table_side = any(t in {"CaseMember.user_id", "EmergencyGrant.user_id"} for t in text)
    caller_side = any(t.endswith("principal.user_id") for t in text)
    return table_side and caller_side


def test_visibility_is_decided_only_by_the_readable_rule() -> None:
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and _is_own_filter(node):
                if relative not in ALLOWED:
                    offenders.append(f"{relative}:{node.lineno}")
    assert offenders == [], (
        "Use app.cases.access.member_case_ids()/readable_cases() instead of filtering "
        f"memberships by hand: {offenders}"
    )


def test_the_guard_sees_a_hand_made_filter() -> None:
    tree = ast.parse("stmt.where(CaseMember.user_id == principal.user_id)")
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert compares and _is_own_filter(compares[0])

"""The README's table of integration scopes is the policy's (app/auth/policy.py).

Regenerate it after changing INTEGRATION_SCOPES with
``.venv/bin/python -m tests.test_readme_scopes`` and paste the output between
the markers in README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.auth.policy import INTEGRATION_SCOPES, SCOPE_FREE, Scope
from tests.routes import api_routes, declared_actions

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- integration-scopes: generated from app/auth/policy.py -->"
END = "<!-- /integration-scopes -->"


def _routes(app: Any, action: str) -> str:
    found = sorted(
        f"`{method} {route.path.removeprefix('/api/v1')}`"
        for route in api_routes(app)
        if action in declared_actions(route.dependant)
        for method in route.methods - {"HEAD", "OPTIONS"}
    )
    return ", ".join(found) or "(none yet)"


def render(app: Any) -> str:
    rows = ["| Scope | Action | Routes |", "|---|---|---|"]
    for scope in Scope:
        actions = sorted(a for a, s in INTEGRATION_SCOPES.items() if s == scope)
        if not actions:
            rows.append(f"| `{scope}` | (declared; no action yet) | |")
        for action in actions:
            rows.append(f"| `{scope}` | `{action}` | {_routes(app, action)} |")
    for action in sorted(SCOPE_FREE):
        rows.append(f"| (none needed) | `{action}` | {_routes(app, action)} |")
    return "\n".join([BEGIN, *rows, END])


def test_the_readme_table_matches_the_policy(app: Any) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(app), "regenerate: python -m tests.test_readme_scopes"


if __name__ == "__main__":  # pragma: no cover
    from app.main import create_app

    print(render(create_app()))

"""Property-based fuzzing of the whole API against its own OpenAPI contract (CI step 3).

Not part of the default run (``norecursedirs`` skips ``tests/fuzz``); run it with
``pytest tests/fuzz -p no:xdist``. The app runs in-process (ASGI) on a migrated
scratch database holding the demo data, so generated requests reach real code,
with real signed tokens of five roles, which take turns example by example.
The gate: no 5xx, and every status code, content type and body is the one the
contract declares. Generation is derandomized, so a run is repeatable.

- ``CASECOORD_FUZZ_DATABASE_URL``: a PostgreSQL URL to fuzz on (default: SQLite
  in a temporary folder);
- ``CASECOORD_FUZZ_EXAMPLES``: examples per operation (default 5).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.demo_app import demo_app

ROLES = ("police", "social", "provider", "auditor", "admin")
EXAMPLES = int(os.environ.get("CASECOORD_FUZZ_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _build() -> tuple[Any, dict[str, dict[str, str]]]:
    app, tokens = demo_app(ROLES, url_env="CASECOORD_FUZZ_DATABASE_URL")
    return app, {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}


APP, HEADERS = _build()
#: The roles take turns, example by example (deterministic, as the examples are).
_turn = itertools.count()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(
    max_examples=EXAMPLES, deterministic=True, allow_x00=True, no_shrink=True
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_contract(case: Any) -> None:
    role = ROLES[next(_turn) % len(ROLES)]
    case.call_and_validate(headers=HEADERS[role], checks=CHECKS)

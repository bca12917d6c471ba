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

import asyncio
import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth.tokens import ensure_dev_key, mint_dev_token
from app.demo.seed import claims_for, find_user, seed_demo
from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from tests.conftest import _in_thread

ROLES = ("police", "social", "provider", "auditor", "admin")
EXAMPLES = int(os.environ.get("CASECOORD_FUZZ_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _build() -> tuple[Any, dict[str, dict[str, str]]]:
    data_dir = Path(tempfile.mkdtemp(prefix="casecoord-fuzz-"))
    url = os.environ.get("CASECOORD_FUZZ_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir}/fuzz.db"
    base = Settings(
        env="development", data_dir=data_dir, database_url=url, referral_sweep_seconds=0
    )
    config = base.model_copy(update={"oidc_jwks": str(ensure_dev_key(base))})
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(config)))
    headers = {}
    for role in ROLES:
        user = find_user(role)
        assert user is not None, role
        token = mint_dev_token(config, claims_for(user), ttl_seconds=3600)
        headers[role] = {"Authorization": f"Bearer {token}"}
    return create_app(config), headers


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

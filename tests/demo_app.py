"""The app on a migrated scratch database holding the demo data, with real demo tokens.

Shared by the runs that drive the whole API from outside (the schemathesis fuzzing
in tests/fuzz and the generated client in tests/contract).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from fastapi import FastAPI

from app.auth.devkeys import ensure_dev_key, mint_dev_token
from app.demo.seed import claims_for, find_user, seed_demo
from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from tests.conftest import _in_thread


def demo_app(roles: tuple[str, ...], url_env: str | None = None) -> tuple[FastAPI, dict[str, str]]:
    """The app and a token per demo user in ``roles``. The database is SQLite in a
    temporary folder, or the URL in the environment variable ``url_env`` if set."""
    data_dir = Path(tempfile.mkdtemp(prefix="casecoord-demo-app-"))
    url = (url_env and os.environ.get(url_env)) or f"sqlite+aiosqlite:///{data_dir}/demo.db"
    base = Settings(
        env="development", data_dir=data_dir, database_url=url, referral_sweep_seconds=0
    )
    config = base.model_copy(update={"oidc_jwks": str(ensure_dev_key(base))})
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(config)))
    tokens = {}
    for role in roles:
        user = find_user(role)
        assert user is not None, role
        tokens[role] = mint_dev_token(config, claims_for(user), ttl_seconds=3600)
    return create_app(config), tokens

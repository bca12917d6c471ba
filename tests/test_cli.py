"""The ``casecoord`` command: development tokens work in development, never in production."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from typer.testing import CliRunner, Result

from app.audit.models import AuditEvent
from app.auth.devkeys import ensure_dev_key, mint_dev_token
from app.auth.tokens import KeySet
from app.cli import cli
from app.main import create_app
from app.platform.config import DEV_KEY_ID_PREFIX, Settings, get_settings
from app.platform.db import Database
from tests.problems import assert_problem


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """The CLI reads settings from the environment once; forget them around each test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run_cli(data_dir: Path, *args: str, **env: str) -> Result:
    runner = CliRunner()
    return runner.invoke(
        cli,
        list(args),
        env={"CASECOORD_DATA_DIR": str(data_dir), "CASECOORD_OIDC_JWKS": "", **env},
    )


@asynccontextmanager
async def client_for(
    settings: Settings, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app built with other settings, on the test's transaction."""
    app = create_app(settings, database=Database.bound_to(connection))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class TestTokenCommand:
    async def test_printed_token_is_accepted_by_the_api_with_the_dev_jwks(
        self,
        fresh_settings: None,
        data_dir: Path,
        database_url: str,
        connection: AsyncConnection,
    ) -> None:
        result = run_cli(data_dir, "token", "police")
        assert result.exit_code == 0, result.output
        token = result.stdout.strip()
        assert token.count(".") == 2
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256"
        assert header["kid"].startswith(DEV_KEY_ID_PREFIX)
        assert (data_dir / "dev-jwks.json").exists()
        assert (data_dir / "dev-signing-key.pem").stat().st_mode & 0o077 == 0

        settings = Settings(
            data_dir=data_dir,
            database_url=database_url,
            oidc_jwks=str(data_dir / "dev-jwks.json"),
        )
        async with client_for(settings, connection) as client:
            r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["subject"] == "demo-police"
            assert body["roles"] == ["police"]
            assert body["organisation"]["code"] == "helsinki-police"

    def test_scope_option_sets_the_tokens_scope(self, fresh_settings: None, data_dir: Path) -> None:
        default = run_cli(data_dir, "token", "integration")
        assert default.exit_code == 0, default.output
        claims = jwt.decode(default.stdout.strip(), options={"verify_signature": False})
        assert claims["scope"] == "referrals:read referrals:write concerns:write events:read"
        result = run_cli(
            data_dir, "token", "integration", "--scope", "referrals:read concerns:write"
        )
        assert result.exit_code == 0, result.output
        claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
        assert claims["scope"] == "referrals:read concerns:write"
        assert claims["roles"] == ["integration"]

    def test_unknown_demo_user_exits_with_error(self, fresh_settings: None, data_dir: Path) -> None:
        result = run_cli(data_dir, "token", "nobody")
        assert result.exit_code == 2
        assert result.stdout == ""

    def test_refused_in_production(self, fresh_settings: None, tmp_path: Path) -> None:
        jwks = tmp_path / "idp-jwks.json"
        jwks.write_text(json.dumps({"keys": []}), encoding="utf-8")
        data_dir = tmp_path / "prod-data"
        result = run_cli(
            data_dir, "token", "police", CASECOORD_ENV="production", CASECOORD_OIDC_JWKS=str(jwks)
        )
        assert result.exit_code != 0
        assert result.stdout == ""
        assert not (data_dir / "dev-signing-key.pem").exists()


class TestDevKeyInProduction:
    def _production(self, data_dir: Path) -> Settings:
        jwks = ensure_dev_key(Settings(data_dir=data_dir))
        return Settings(env="production", data_dir=data_dir, oidc_jwks=str(jwks))

    def test_minting_a_dev_token_is_refused(self, tmp_path: Path) -> None:
        production = self._production(tmp_path)
        with pytest.raises(RuntimeError, match="production"):
            mint_dev_token(production, {"sub": "demo-police", "org": "x", "roles": []})
        with pytest.raises(RuntimeError, match="production"):
            ensure_dev_key(production)

    def test_keyset_ignores_dev_kids_in_production(self, tmp_path: Path) -> None:
        production = self._production(tmp_path)
        dev_kid = json.loads(Path(production.oidc_jwks or "").read_text())["keys"][0]["kid"]
        assert dev_kid.startswith(DEV_KEY_ID_PREFIX)
        assert KeySet(production, production.oidc_jwks).get(dev_kid) is None
        development = production.model_copy(update={"env": "development"})
        assert KeySet(development, development.oidc_jwks).get(dev_kid) is not None

    async def test_dev_token_gets_401_from_a_production_api(
        self, tmp_path: Path, database_url: str, connection: AsyncConnection, db: AsyncSession
    ) -> None:
        dev = Settings(data_dir=tmp_path, database_url=database_url)
        token = mint_dev_token(
            dev, {"sub": "demo-police", "org": "helsinki-police", "roles": ["police"]}
        )
        production = Settings(
            env="production",
            data_dir=tmp_path,
            database_url=database_url,
            oidc_jwks=str(dev.dev_jwks_path),
        )
        app = create_app(production, database=Database.bound_to(connection))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert_problem(r, 401)
        # Refusals of unauthenticated requests are tallied per address and window.
        assert await app.state.auth_guard.flush(app.state.db) == 1
        denial = await db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.refused"))
        assert denial is not None
        assert denial.reason == "1 refused in 60s: 401:unknown signing key=1"


def test_serve_refuses_several_workers_on_sqlite(data_dir: Path, fresh_settings: None) -> None:
    result = run_cli(data_dir, "serve", "--workers", "2")
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output
    assert not (data_dir / "casecoord.db").exists()  # refused before migrating anything


def test_serve_workers_must_be_positive(data_dir: Path, fresh_settings: None) -> None:
    assert run_cli(data_dir, "serve", "--workers", "0").exit_code == 2

"""Test fixtures: a real migrated database, real signed JWTs, real HTTP over ASGI.

- The database is built once per run (per xdist worker) with ``alembic upgrade
  head`` -- never ``create_all`` -- on SQLite by default, or on PostgreSQL when
  ``CASECOORD_TEST_DATABASE_URL`` is set (a fresh database per worker is created
  next to the one named).
- Each test runs inside an outer transaction that is rolled back; the app's
  sessions join it with SAVEPOINTs, so the app's own commits stay invisible to
  the next test.
- Tokens are minted with PyJWT (a different library from the server's
  python-jose) and signed with a key published in a JWKS file.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.directory.models import Organisation
from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.db import Database, make_engine
from tests.plans.factories import MarakCase, marak_case
from tests.world import AUDIENCE, ISSUER, KID, Actor, TokenFactory, World, build_world


def _in_thread(fn: Callable[[], Any]) -> None:
    """Run fn (which uses asyncio.run) away from pytest-asyncio's loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def _pg_admin(url: str, *statements: str) -> None:
    import asyncpg

    base = make_url(url)
    conn = await asyncpg.connect(
        host=base.host or "127.0.0.1",
        port=base.port or 5432,
        user=base.username or "postgres",
        password=base.password,
        database=base.database,
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _recreate_pg_database(url: str, name: str) -> None:
    await _pg_admin(
        url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


@contextmanager
def scratch_database(
    tmp_path_factory: pytest.TempPathFactory,
    tag: str,
    *,
    migrate: bool = True,
    name: str | None = None,
) -> Iterator[str]:
    """A database of its own on the configured backend (migrated to head unless
    ``migrate=False``); a PostgreSQL one is dropped afterwards.

    For the worker's own database, and for tests whose rows really commit or
    that read a whole table (the audit log): other tests' committed rows must
    not reach them, and theirs must not reach others. On PostgreSQL the name is
    ``<test database>_<name>``; by default the tag, the process id (concurrent
    runs against one server, several checkouts or CI jobs, never drop each
    other's databases mid-run) and a random suffix.
    """
    configured = os.environ.get("CASECOORD_TEST_DATABASE_URL")
    if not configured:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp(tag) / f'{tag}.db'}"
        if migrate:
            _in_thread(lambda: upgrade(url))
        yield url
        return
    base = make_url(configured)
    database = f"{base.database}_{name or f'{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}'}"
    _in_thread(lambda: asyncio.run(_recreate_pg_database(configured, database)))
    url = base.set(database=database).render_as_string(hide_password=False)
    try:
        if migrate:
            _in_thread(lambda: upgrade(url))
        yield url
    finally:
        drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
        _in_thread(lambda: asyncio.run(_pg_admin(configured, drop)))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with scratch_database(tmp_path_factory, "db", name=f"{worker}_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks_file(tmp_path_factory: pytest.TempPathFactory, signing_key: rsa.RSAPrivateKey) -> Path:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    public.update({"kid": KID, "use": "sig", "alg": "RS256"})
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [public]}), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def settings(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, jwks_file: Path
) -> Settings:
    return Settings(
        env="development",
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks=str(jwks_file),
        max_body_bytes=64 * 1024,
        # The shared app must not throttle the suite (every test calls from one
        # address); tests/security/test_auth_limits.py builds apps with low limits.
        auth_failure_limit_per_address="100000/minute",
        auth_failure_limit_per_subject="100000/minute",
        auth_refusal_window_seconds=86_400,
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield conn
        if outer.is_active:
            await outer.rollback()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    return create_app(settings, database=Database.from_url("sqlite+aiosqlite://"))


@pytest.fixture
async def client(app: Any, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    app.state.db = Database.bound_to(connection)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def db(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session on the test's transaction, for arranging data and checking results."""
    session = AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield session
    await session.close()


@pytest.fixture(scope="session")
def tokens(signing_key: rsa.RSAPrivateKey) -> TokenFactory:
    return TokenFactory(signing_key)


@pytest.fixture
def make_actor(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> Callable[..., Any]:
    """``await make_actor("police", org="org-a")``: registers the user via /me."""

    async def factory(
        *roles: str, org: str = "org-a", sub: str | None = None, **claims: Any
    ) -> Actor:
        subject = sub or f"{'-'.join(roles) or 'none'}-{uuid.uuid4().hex[:8]}"
        token = tokens.mint(subject, list(roles), org, **claims)
        headers = {"Authorization": f"Bearer {token}"}
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        organisation = await db.get(Organisation, uuid.UUID(body["organisation"]["id"]))
        assert organisation is not None
        return Actor(uuid.UUID(body["id"]), subject, organisation, list(roles), headers)

    return factory


@pytest.fixture
async def world(db: AsyncSession, tokens: TokenFactory) -> World:
    """Organisations, a team of each scheme and the people in them (tests/world.py)."""
    return await build_world(db, tokens)


@pytest.fixture
async def marak(db: AsyncSession, world: World) -> MarakCase:
    """A plan-active Marak case: police lead, the others members, a consenting victim."""
    return await marak_case(db, world)

"""Webhook fixtures: an app whose settings allow a receiver on 127.0.0.1 (http),
the jobs' context on the test's transaction, and a receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.jobs.registry import JobContext, Jobs
from app.main import create_app
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.extensions import registries_of
from tests.webhooks.receiver import Receiver
from tests.world import Actor, TokenFactory, World, make_user

DEV = {
    "webhook_allow_insecure": True,
    "webhook_allow_private": True,
    "webhook_timeout_seconds": 3.0,
    "webhook_lease_seconds": 30.0,
}


@pytest.fixture(scope="session")
def dev_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=DEV)


@pytest.fixture(scope="session")
def dev_app(dev_settings: Settings) -> Any:
    return create_app(dev_settings, database=Database.from_url("sqlite+aiosqlite://"))


@pytest.fixture
async def dev_client(dev_app: Any, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    dev_app.state.db = Database.bound_to(connection)
    transport = httpx.ASGITransport(app=dev_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def ctx(dev_app: Any, dev_settings: Settings, connection: AsyncConnection) -> JobContext:
    return JobContext(Database.bound_to(connection), dev_settings, registries_of(dev_app))


@pytest.fixture
def jobs(dev_app: Any) -> Jobs:
    return registries_of(dev_app).of(Jobs)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    if r.stall is not None:
        r.stall.set()
    r.stop()


@pytest.fixture
def frozen() -> Iterator[Any]:
    yield clock
    clock.unfreeze()


@pytest.fixture
async def admin(db: AsyncSession, tokens: TokenFactory, world: World) -> Actor:
    """The admin of the police organisation (world.org), whose officer leads the cases."""
    actor = await make_user(db, tokens, world.org, "admin")
    await db.commit()
    return actor

"""Worker processes against one database: two deliver each event exactly once per
attempt, and a worker killed with kill -9 mid-delivery still gets it delivered.

The data is committed in a database of its own (not the test's rolled-back
transaction), so that real subprocesses see it; on PostgreSQL the claim is
``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.jobs.registry import JobContext
from app.main import create_app
from app.platform.config import Settings
from app.platform.extensions import registries_of
from app.webhooks import fanout
from app.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import scratch_database
from tests.webhooks.helpers import cases, subscribe
from tests.webhooks.receiver import Receiver
from tests.world import TokenFactory, World, build_world, make_user

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Fresh:
    settings: Settings
    app: Any
    client: httpx.AsyncClient
    world: World
    ctx: JobContext


@pytest.fixture
def fresh_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "wh") as url:
        yield url


@pytest.fixture
async def fresh(
    fresh_url: str, dev_settings: Settings, tokens: TokenFactory
) -> AsyncIterator[Fresh]:
    settings = dev_settings.model_copy(update={"database_url": fresh_url})
    app = create_app(settings)
    async with app.state.db.sessionmaker() as session:
        world = await build_world(session, tokens)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Fresh(
            settings, app, client, world, JobContext(app.state.db, settings, registries_of(app))
        )
    await app.state.db.dispose()


def spawn(
    fresh: Fresh, ready: Path, lease: float = 30.0, seconds: float = 90
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CASECOORD_DATABASE_URL": fresh.settings.effective_database_url,
        "CASECOORD_DATA_DIR": str(fresh.settings.data_dir),
        "CASECOORD_WEBHOOK_ALLOW_INSECURE": "true",
        "CASECOORD_WEBHOOK_ALLOW_PRIVATE": "true",
        "CASECOORD_WEBHOOK_LEASE_SECONDS": str(lease),
        "CASECOORD_WEBHOOK_TIMEOUT_SECONDS": "20",
        "CASECOORD_WEBHOOK_BATCH": "4",
    }
    return subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "tests.webhooks.worker_loop", str(ready), str(seconds)],
        cwd=ROOT,
        env=env,
    )


async def wait_for(predicate: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def _ready(*paths: Path) -> None:
    async def all_ready() -> bool:
        return all(p.exists() for p in paths)

    await wait_for(all_ready)


async def _count(fresh: Fresh, status: str) -> int:
    async with fresh.app.state.db.sessionmaker() as session:
        stmt = (
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == status)
        )
        return int(await session.scalar(stmt) or 0)


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=30)


async def test_two_worker_processes_deliver_each_event_exactly_once(
    fresh: Fresh, tmp_path: Path, receiver: Receiver, tokens: TokenFactory
) -> None:
    def slow(_: Any) -> tuple[int, dict[str, str]]:
        time.sleep(0.05)
        return 200, {}

    receiver.respond = slow
    async with fresh.app.state.db.sessionmaker() as session:
        admin = await make_user(session, tokens, fresh.world.org, "admin")
        await session.commit()
    await subscribe(fresh.client, admin, receiver.url)
    n = 60
    await cases(fresh.client, fresh.world, n)
    a, b = tmp_path / "a", tmp_path / "b"
    workers = [spawn(fresh, a), spawn(fresh, b)]
    try:
        await _ready(a, b)
        assert await fanout.fan_out(fresh.ctx) == n

        async def done() -> bool:
            return await _count(fresh, "succeeded") == n

        await wait_for(done)
    finally:
        _stop(*workers)
    counts = Counter(receiver.ids())
    assert len(counts) == n
    assert set(counts.values()) == {1}, "an event was sent twice"
    async with fresh.app.state.db.sessionmaker() as session:
        rows = (await session.scalars(select(WebhookAttempt))).all()
    assert [r.error for r in rows if r.error] == []
    assert len(rows) == n
    assert len({r.worker for r in rows}) == 2, "both workers took part"


async def test_a_worker_killed_mid_delivery_still_delivers(
    fresh: Fresh, tmp_path: Path, receiver: Receiver, tokens: TokenFactory
) -> None:
    held = threading.Event()
    receiver.stall = held
    async with fresh.app.state.db.sessionmaker() as session:
        admin = await make_user(session, tokens, fresh.world.org, "admin")
        await session.commit()
    await subscribe(fresh.client, admin, receiver.url)
    await cases(fresh.client, fresh.world)
    a, b = tmp_path / "a", tmp_path / "b"
    first = spawn(fresh, a, lease=3.0)
    second = None
    try:
        await _ready(a)
        assert await fanout.fan_out(fresh.ctx) == 1

        async def sending() -> bool:
            return len(receiver.received) == 1

        await wait_for(sending)  # the worker is mid-delivery: the receiver holds it
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        receiver.stall = None  # from now on the receiver answers at once
        held.set()
        second = spawn(fresh, b, lease=3.0)

        async def delivered() -> bool:
            return await _count(fresh, "succeeded") == 1

        await wait_for(delivered)
    finally:
        held.set()
        _stop(first, *([second] if second else []))
    ids = receiver.ids()
    assert len(ids) == 2 and ids[0] == ids[1]  # the same webhook-id, sent again
    async with fresh.app.state.db.sessionmaker() as session:
        attempts = (await session.scalars(select(WebhookAttempt))).all()
    assert len(attempts) == 1  # the killed worker recorded nothing; its claim expired
    assert attempts[0].status_code == 204

"""The README's example receiver (examples/webhook_receiver.py) against a served app:
it verifies the signature, fetches the referral through the API, and dedupes."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from app.jobs.registry import JobContext
from app.main import create_app
from app.webhooks import delivery, fanout
from app.webhooks.models import WebhookDelivery
from examples.webhook_receiver import Receiver as Example
from tests.referrals.conftest import build_referral_world, create, moved
from tests.webhooks.helpers import API, subscribe
from tests.webhooks.receiver import Received, Receiver
from tests.webhooks.test_workers import Fresh, fresh, fresh_url
from tests.world import TokenFactory, make_user

__all__ = ["fresh", "fresh_url"]  # the fixtures of a database of its own


#: How long the served app may take to start, and the receiver's call back into it.
GENEROUS = 60.0


def _bound() -> socket.socket:
    """A listening socket on a free port, handed to uvicorn as it is (no port race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


async def _started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + GENEROUS
    while not server.started:
        assert thread.is_alive(), "the served app stopped before it started"
        assert time.monotonic() < deadline, f"the served app did not start in {GENEROUS} s"
        await asyncio.sleep(0.05)


async def test_the_example_receiver(fresh: Fresh, receiver: Receiver, tokens: TokenFactory) -> None:
    async with fresh.app.state.db.sessionmaker() as session:
        rw = await build_referral_world(session, tokens)
        admin = await make_user(session, tokens, rw.provider_org, "admin")
        await session.commit()
    hook = await subscribe(fresh.client, admin, receiver.url, ["referral.requested"])
    # The served app runs no jobs: the test runs fan-out and delivery itself. With the
    # default embedded engine its sender polls every second and, when it ticks between
    # the redelivery and the test's own deliver_due, claims the delivery first
    # (deliver_due then claims 0): the flake seen under load.
    served = create_app(fresh.settings.model_copy(update={"jobs": "off"}))
    sock = _bound()
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(served, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    await _started(server, thread)
    token = tokens.mint(rw.provider.sub, ["service_provider"], rw.provider_org.code)
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=GENEROUS,
    )
    example = Example(hook["secret"], api)
    results: list[tuple[int, Any]] = []

    def respond(item: Received) -> tuple[int, dict[str, str]]:
        results.append(example.handle(item.headers, item.body))
        return results[-1][0], {}

    receiver.respond = respond
    # The receiver calls back into the served app before it answers: under a loaded
    # test run that can take longer than the fixtures' short delivery timeout.
    ctx = JobContext(
        fresh.ctx.db,
        fresh.settings.model_copy(update={"webhook_timeout_seconds": GENEROUS}),
        fresh.ctx.registries,
    )
    try:
        referral = await create(fresh.client, rw)
        await moved(fresh.client, rw.lead, referral, "requested")
        await fanout.fan_out(ctx)
        assert await delivery.deliver_due(ctx) == 1
        ((status, fetched),) = results
        assert status == 204 and fetched["id"] == referral["id"]
        async with fresh.app.state.db.sessionmaker() as session:
            (row,) = (await session.scalars(select(WebhookDelivery))).all()
        r = await fresh.client.post(
            f"{API}/webhook-deliveries/{row.id}/redelivery", headers=admin.headers
        )
        assert r.status_code == 202, r.text
        assert await delivery.deliver_due(ctx) == 1
        assert results[-1] == (204, None)  # the same webhook-id: deduplicated
        # A tampered body is refused by the verifier.
        item = receiver.received[0]
        assert example.handle(item.headers, item.body + b" ")[0] == 400
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, GENEROUS)
        await asyncio.to_thread(api.close)
        sock.close()

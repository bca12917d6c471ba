"""Shared steps of the webhook tests."""

from __future__ import annotations

from typing import Any

import httpx

from app.jobs.registry import JobContext
from app.webhooks import delivery, fanout
from tests.world import Actor, World, open_case

API = "/api/v1"


async def subscribe(
    client: httpx.AsyncClient, actor: Actor, url: str, types: list[str] | None = None, **body: Any
) -> dict[str, Any]:
    r = await client.post(
        f"{API}/webhooks",
        json={"url": url, "event_types": types or ["case.created"], **body},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json()) | {"etag": r.headers["etag"]}


async def cases(client: httpx.AsyncClient, world: World, n: int = 1) -> list[dict[str, Any]]:
    """Open ``n`` cases (each emits case.created, seen by the police organisation)."""
    return [await open_case(client, world.police, world.marak) for _ in range(n)]


async def run(ctx: JobContext, rounds: int = 1) -> int:
    """Fan out, then deliver what is due, ``rounds`` times; how many were claimed."""
    total = 0
    for _ in range(rounds):
        await fanout.fan_out(ctx)
        total += await delivery.deliver_due(ctx)
    return total


async def deliveries(
    client: httpx.AsyncClient, actor: Actor, **params: Any
) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/webhook-deliveries", params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])

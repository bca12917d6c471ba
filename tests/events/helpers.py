"""Shared helpers for the outbox and event feed tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import OutboxEvent
from tests.world import Actor, TokenFactory, make_org, short

API = "/api/v1"


async def rows(db: AsyncSession, **where: Any) -> list[OutboxEvent]:
    where = {k: uuid.UUID(str(v)) if k.endswith("_id") else v for k, v in where.items()}
    stmt = select(OutboxEvent).filter_by(**where).order_by(OutboxEvent.sequence)
    return list((await db.scalars(stmt)).all())


async def feed_all(
    client: httpx.AsyncClient, actor: Actor, limit: int = 100, after: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Every event the actor may read now, following the cursor to the end."""
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        r = await client.get(f"{API}/events", params=params, headers=actor.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items.extend(body["items"])
        assert body["next_cursor"]
        after = body["next_cursor"]
        if not body["has_more"]:
            return items, after


async def integration_client(
    db: AsyncSession, tokens: TokenFactory, org: Any = None, scopes: str = "events:read"
) -> Actor:
    """An integration client (a municipal system) of ``org``, with these scopes."""
    org = org or await make_org(db, "ngo")
    sub = f"integration-{short()}"
    token = tokens.mint(sub, ["integration"], org.code, scope=scopes)
    headers = {"Authorization": f"Bearer {token}"}
    return Actor(id=None, sub=sub, org=org, roles=["integration"], headers=headers)  # type: ignore[arg-type]

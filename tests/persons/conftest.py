"""People tests start from the world (tests/world.py), plus a youth worker and two Marak cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from tests.world import Actor, TokenFactory, World, make_user, open_case


@dataclass
class People:
    world: World
    youth: Actor  # youth worker in the Marak team (no protected fields)
    case: dict[str, Any]  # a Marak case led by world.police
    foreign: dict[str, Any]  # a Marak case of world.social_worker; police is not a member


@pytest.fixture
async def people(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World
) -> People:
    youth = await make_user(db, tokens, world.org, "youth_worker", teams=(world.marak,))
    await db.commit()
    case = await open_case(client, world.police, world.marak)
    foreign = await open_case(client, world.social_worker, world.marak)
    return People(world, youth, case, foreign)


async def add_to_case(
    client: httpx.AsyncClient, lead: Actor, case: dict[str, Any], *members: Actor
) -> None:
    for member in members:
        r = await client.post(
            f"/api/v1/cases/{case['id']}/members",
            json={"user_id": str(member.id)},
            headers=lead.headers,
        )
        assert r.status_code == 201, r.text


async def audit_rows(db: AsyncSession, **where: Any) -> list[AuditEvent]:
    stmt = select(AuditEvent)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return list((await db.scalars(stmt.order_by(AuditEvent.occurred_at, AuditEvent.id))).all())

"""One time source: a frozen clock is "now" for services, gates, access and column defaults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.access import readable_cases
from app.cases.models import Case
from app.platform.clock import clock
from app.platform.db import utcnow
from tests.cases.test_transitions import move
from tests.world import World, open_case


@pytest.fixture
def frozen() -> Iterator[datetime]:
    at = (datetime.now().astimezone() - timedelta(days=3)).replace(microsecond=0)
    clock.freeze(at)
    yield at
    clock.unfreeze()


def test_the_database_clock_is_the_application_clock(frozen: datetime) -> None:
    assert utcnow() == clock.now() == frozen
    clock.unfreeze()
    assert abs(utcnow() - clock.now()) < timedelta(seconds=5)
    assert abs(utcnow() - frozen) > timedelta(days=2)


async def test_a_frozen_clock_stamps_every_record_alike(
    frozen: datetime, client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    case = await open_case(client, world.police, world.ankkuri)
    assert datetime.fromisoformat(case["created_at"]) == frozen
    assert (await move(client, world.police, case, to="screening")).status_code == 200
    r = await client.get(f"/api/v1/cases/{case['id']}/transitions", headers=world.police.headers)
    assert [datetime.fromisoformat(t["occurred_at"]) for t in r.json()] == [frozen]
    stamps = await db.scalars(
        select(AuditEvent.occurred_at).where(AuditEvent.target_id == case["id"])
    )
    assert set(stamps.all()) == {frozen}
    # Access is decided on the same clock: a case created "now" is readable now.
    principal = world.police.principal()
    readable = await db.scalars(readable_cases(principal).with_only_columns(Case.id))
    assert case["id"] in {str(i) for i in readable.all()}

"""A legal hold placed while a retention purge runs wins over the purge, on separate,
committed connections (what the rolled-back test transaction cannot show).

1. Between the plan (the list of due cases) and the purge, a hold is placed and
   committed: the purge's re-check under the lock finds it and keeps the case.
2. PostgreSQL: while the purge holds its locks (a purge hook runs between the
   re-check and the delete), placing a hold on the case, or on a person taking part
   in it, waits for the purge; with a short lock timeout it fails instead of slipping
   in between the re-check and the delete. SQLite has one writer (BEGIN IMMEDIATE),
   so a second transaction cannot start writing there at all.

They run on a scratch database of their own (migrated to head), so what they
commit, audit rows included, never meets the other retention tests, which run
retention over the whole test database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.cases.models import Case
from app.platform.db import Database
from app.retention import holds, purge
from app.retention.classes import Schedule
from app.retention.due import due_cases_query, ids
from app.retention.hooks import PurgeHooks
from app.retention.schemas import HoldGround, HoldTarget, LegalHoldCreate
from tests.conftest import scratch_database
from tests.retention.helpers import PLAN, closed_case, future, person_in
from tests.world import TokenFactory, World, build_world


@pytest.fixture(scope="module")
def scratch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "race") as url:
        yield url


@pytest.fixture
async def live(scratch_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(scratch_url)
    yield db
    await db.dispose()


def auditor_of(world: World) -> Principal:
    return world.auditor.principal()


def hold_on(kind: HoldTarget, target: uuid.UUID) -> LegalHoldCreate:
    return LegalHoldCreate(
        target_type=kind, target_id=target, ground=HoldGround.LITIGATION, reference="R 7/2026"
    )


async def closed_with_person(live: Database, tokens: TokenFactory) -> tuple[World, Case, uuid.UUID]:
    async with live.sessionmaker() as session:
        world = await build_world(session, tokens)
        case = await closed_case(session, world.hah, world.police)
        person = await person_in(session, case, world.police)
        await session.commit()
        return world, case, person.id


async def exists(live: Database, case_id: uuid.UUID) -> bool:
    async with live.sessionmaker() as session:
        return await session.scalar(select(Case.id).where(Case.id == case_id)) is not None


@pytest.mark.parametrize("kind", [HoldTarget.CASE, HoldTarget.PERSON])
async def test_a_hold_placed_after_the_plan_keeps_the_case(
    live: Database, tokens: TokenFactory, kind: HoldTarget
) -> None:
    world, case, person_id = await closed_with_person(live, tokens)
    now: datetime = future()
    schedule = Schedule()
    async with live.sessionmaker() as session:  # the plan
        assert case.id in await ids(session, due_cases_query(schedule, now))
    async with live.sessionmaker.begin() as session:  # a hold, committed meanwhile
        target = case.id if kind == HoldTarget.CASE else person_id
        await holds.place(session, auditor_of(world), hold_on(kind, target))
    async with live.sessionmaker.begin() as session:  # the purge of the planned case
        counts = await purge.purge_case(session, PLAN, schedule, PurgeHooks(), case.id, now)
    assert counts is None
    assert await exists(live, case.id)


@pytest.mark.parametrize("kind", [HoldTarget.CASE, HoldTarget.PERSON])
async def test_a_hold_cannot_slip_between_the_recheck_and_the_delete(
    live: Database, tokens: TokenFactory, kind: HoldTarget
) -> None:
    assert live.engine is not None
    if live.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer: a second transaction cannot write mid-purge")
    world, case, person_id = await closed_with_person(live, tokens)
    target = case.id if kind == HoldTarget.CASE else person_id
    attempts: list[str] = []

    async def place_a_hold_mid_purge(session: AsyncSession, case_id: uuid.UUID) -> None:
        # The purge has re-checked (due, unheld) and holds its locks; the delete is next.
        async with live.sessionmaker() as other:
            await other.begin()
            await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
            try:
                await holds.place(other, auditor_of(world), hold_on(kind, target))
                await other.commit()
                attempts.append("placed")
            except DBAPIError as error:
                assert "lock timeout" in str(error.orig).lower() or "lock" in str(error).lower()
                await other.rollback()
                attempts.append("waited")

    hooks = PurgeHooks()
    hooks.register(place_a_hold_mid_purge)
    async with live.sessionmaker.begin() as session:
        counts = await purge.purge_case(session, PLAN, Schedule(), hooks, case.id, future())
    # The hold had to wait for the purge: it never stood while the case was deleted.
    assert attempts == ["waited"]
    assert counts is not None and not await exists(live, case.id)

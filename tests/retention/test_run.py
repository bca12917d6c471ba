"""Retention deletes exactly what is past due, and nothing held, not yet due or open."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case, CaseNote
from app.concerns.models import Concern
from app.events.models import OutboxEvent
from app.persons.models import Person
from app.platform.db import utcnow
from app.platform.idempotency import IdempotencyRecord
from app.retention.hooks import PurgeHooks
from app.retention.models import LegalHold
from tests.cases.factories import add_participant, make_case
from tests.plans.factories import MarakCase
from tests.retention.helpers import (
    closed_case,
    dismissed_concern,
    exists,
    future,
    hold,
    person_in,
    retain,
    rows_of_case,
)
from tests.world import World


async def test_only_closed_past_due_unheld_cases_go(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    due = await closed_case(db, world.ankkuri, world.police)
    due_person = await person_in(db, due, world.police)
    recent = await closed_case(
        db, world.ankkuri, world.police, closed_at=future() - timedelta(days=1)
    )
    open_case = await make_case(db, world.ankkuri, world.police)
    held_case = await closed_case(db, world.ankkuri, world.police)
    await hold(db, world.auditor, "case", held_case.id)
    person_held_case = await closed_case(db, world.ankkuri, world.police)
    held_person = await person_in(db, person_held_case, world.police)
    await hold(db, world.auditor, "person", held_person.id)
    lifted_case = await closed_case(db, world.ankkuri, world.police)
    lifted = await hold(db, world.auditor, "case", lifted_case.id)
    lifted.lifted_at, lifted.lifted_by = utcnow(), world.auditor.id
    await db.commit()

    report = await retain(connection)

    assert set(report.cases) == {due.id, lifted_case.id}
    assert await rows_of_case(db, due.id) == {}
    assert not await exists(db, Person, due_person.id)  # left with no case
    for kept in (recent, open_case, held_case, person_held_case):
        assert await exists(db, Case, kept.id)
        assert await rows_of_case(db, kept.id)
    assert await exists(db, Person, held_person.id)
    assert not await exists(db, LegalHold, lifted.id)  # history of a purged target goes with it


async def test_everything_in_a_full_case_goes_and_nothing_outside_it(
    db: AsyncSession, connection: AsyncConnection, world: World, marak: MarakCase
) -> None:
    """The Marak fixture has members, participants, consents, exclusions, notes..."""
    from tests.plans.factories import ensure_plan

    case = marak.case
    await ensure_plan(db, case, world.police, agreed=True)
    db.add(
        OutboxEvent(
            id=uuid.uuid4(),
            type="case.created",
            case_id=case.id,
            target_type="case",
            target_id=case.id,
        )
    )
    other = await closed_case(db, world.ankkuri, world.police, closed_at=future())
    case.status, case.closed_at = "closed", utcnow()
    await db.commit()
    before = await rows_of_case(db, case.id)
    assert {"case_members", "case_participants", "person_consents", "plans"} <= set(before)

    report = await retain(connection)

    assert report.cases == [case.id]
    assert await rows_of_case(db, case.id) == {}
    assert {k: v for k, v in report.case_rows.items() if k in before} == before
    assert await rows_of_case(db, other.id)


async def test_a_person_shared_with_a_live_case_survives(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    gone = await closed_case(db, world.ankkuri, world.police)
    live = await make_case(db, world.hah, world.police)
    shared = await person_in(db, gone, world.police, "Shared")
    await add_participant(db, live, world.police, "person_of_concern", shared)
    only = await person_in(db, gone, world.police, "Only")
    await db.commit()

    report = await retain(connection)

    assert report.cases == [gone.id]
    assert await exists(db, Person, shared.id)
    assert not await exists(db, Person, only.id)
    assert report.persons == [only.id]


async def test_dismissed_concerns_and_their_only_persons_go(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    from tests.cases.factories import add_person

    lone = await add_person(db, world.police, "Lone", "Concern-Marker")
    dismissed = await dismissed_concern(db, world.hah, world.police, lone)
    live = await make_case(db, world.hah, world.police)
    known = await add_person(db, world.police, "Known", "Concern-Marker")
    await add_participant(db, live, world.police, "person_of_concern", known)
    about_known = await dismissed_concern(db, world.hah, world.police, known)
    recent = await dismissed_concern(
        db, world.hah, world.police, await add_person(db, world.police), at=future()
    )
    await db.commit()

    report = await retain(connection)

    assert set(report.concerns) == {dismissed.id, about_known.id}
    assert not await exists(db, Concern, dismissed.id)
    assert not await exists(db, Person, lone.id)
    assert await exists(db, Person, known.id)
    assert await exists(db, Concern, recent.id)
    assert lone.id in report.persons and known.id not in report.persons


async def test_a_dry_run_deletes_nothing_and_lists_what_the_run_takes(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    from tests.cases.factories import add_person

    cases = [await closed_case(db, world.ankkuri, world.police) for _ in range(2)]
    for case in cases:
        await person_in(db, case, world.police)
    await dismissed_concern(db, world.hah, world.police, await add_person(db, world.police))
    await make_case(db, world.ankkuri, world.police)
    await db.commit()

    dry = await retain(connection, dry_run=True)
    for case in cases:
        assert await exists(db, Case, case.id)
    assert len(dry.cases) == 2 and len(dry.concerns) == 1 and len(dry.persons) == 3

    real = await retain(connection)
    assert (real.cases, real.concerns, real.persons) == (dry.cases, dry.concerns, dry.persons)
    assert real.case_rows == dry.case_rows
    assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "retention.dry_run"))


async def test_expired_idempotency_rows_and_old_events_go(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    now = utcnow()

    def key(expires: timedelta) -> IdempotencyRecord:
        return IdempotencyRecord(
            user_id=world.police.id,
            key=uuid.uuid4().hex,
            fingerprint="0" * 64,
            response_status=201,
            response_headers={},
            target_type="case",
            target_id=str(uuid.uuid4()),
            created_at=now,
            expires_at=now + expires,
        )

    old, fresh = key(-timedelta(hours=1)), key(timedelta(hours=23))
    events = [
        OutboxEvent(
            id=uuid.uuid4(),
            type="case.created",
            occurred_at=now - timedelta(days=days),
            target_type="case",
            target_id=uuid.uuid4(),
        )
        for days in (100, 1)
    ]
    db.add_all([old, fresh, *events])
    await db.commit()

    report = await retain(connection, now=now)

    assert report.idempotency_rows == 1 and report.events == 1
    assert not await exists(db, IdempotencyRecord, old.id)
    assert await exists(db, IdempotencyRecord, fresh.id)
    left = await db.scalars(
        select(OutboxEvent.id).where(OutboxEvent.id.in_([e.id for e in events]))
    )
    assert list(left) == [events[1].id]


async def test_purges_are_audited_by_counts_and_ids_never_content(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    from tests.cases.factories import add_person

    case = await closed_case(db, world.ankkuri, world.police)
    person = await person_in(db, case, world.police, "Canary-Given")
    concern = await dismissed_concern(
        db, world.hah, world.police, await add_person(db, world.police, "Canary-Two", "Marker")
    )
    await db.commit()
    markers = ["Canary", "Marker", "MARKER", "Matter", "calm visit", "worrying"]

    report = await retain(connection)

    assert case.id in report.cases and concern.id in report.concerns
    rows = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action.startswith("retention.")))
    ).all()
    by_action = {r.action for r in rows}
    assert {
        "retention.case.purged",
        "retention.case.rows_purged",
        "retention.concern.purged",
        "retention.person.purged",
        "retention.run",
    } <= by_action
    ids = {str(case.id), str(person.id), str(concern.id), *map(str, report.persons)}
    for row in rows:
        text = " ".join(str(v) for v in (row.purpose, row.reason, row.target_type, row.target_id))
        assert not any(m in text for m in markers), text
        assert row.actor_id is None
        if row.action in (
            "retention.case.purged",
            "retention.concern.purged",
            "retention.person.purged",
            "retention.case.rows_purged",
        ):
            assert row.target_id in ids
            assert re.fullmatch(r"[a-z_=0-9, ]+", row.purpose or ""), row.purpose
    note_rows = [r for r in rows if r.target_type == CaseNote.__tablename__]
    assert [r.purpose for r in note_rows] == ["1"]


async def test_a_hook_is_called_in_the_purge_and_a_failing_one_keeps_the_case(
    db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    first = await closed_case(db, world.ankkuri, world.police)
    second = await closed_case(
        db, world.ankkuri, world.police, closed_at=utcnow() + timedelta(seconds=1)
    )
    await db.commit()
    seen: list[uuid.UUID] = []

    async def shred(session: AsyncSession, case_id: uuid.UUID) -> None:
        # Inside the purge transaction, before the rows go: the case is still there.
        assert await session.scalar(select(Case.id).where(Case.id == case_id)) == case_id
        seen.append(case_id)
        if case_id == second.id:
            raise RuntimeError("key store unavailable")

    hooks = PurgeHooks()
    hooks.register(shred)
    with pytest.raises(RuntimeError, match="twice"):
        hooks.register(shred)

    report = await retain(connection, hooks=hooks)

    assert seen == [first.id, second.id]
    assert report.cases == [first.id]
    assert report.failed == [f"case {second.id}"]
    assert await exists(db, Case, second.id) and await rows_of_case(db, second.id)


async def test_the_whole_demo_goes_when_closed_and_nothing_of_it_is_left(
    db: AsyncSession, connection: AsyncConnection, settings: Any
) -> None:
    """Every domain's demo rows (referrals, meetings and minutes, assessments, facts...)."""
    from sqlalchemy import func, update

    from app.demo.seed import _seed
    from app.platform.db import Base

    await _seed(db, settings)
    await db.execute(update(Case).values(status="closed", closed_at=utcnow()))
    await db.commit()
    names = {
        n
        for row in (await db.execute(select(Person.given_name, Person.family_name))).all()
        for n in row
    }
    case_ids = set(await db.scalars(select(Case.id)))

    report = await retain(connection)

    assert set(report.cases) == case_ids and not report.failed
    for table in Base.metadata.sorted_tables:
        if "case_id" in table.c:
            left = await db.scalar(
                select(func.count()).select_from(table).where(table.c.case_id.in_(case_ids))
            )
            assert left == 0, table.name
    assert await db.scalar(select(func.count()).select_from(Person)) == 0
    rows = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action.startswith("retention.")))
    ).all()
    text = " ".join(f"{r.purpose} {r.target_id}" for r in rows)
    assert not [n for n in names if n and n in text]

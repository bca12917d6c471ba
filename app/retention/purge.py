"""Purging one thing, in the caller's transaction: a case with everything in it, a
dismissed concern, a person no record refers to, expired operational rows.

Each purge first re-checks, under a row lock, that its target is still due and
not held (a hold placed meanwhile wins), and writes its audit rows in the same
transaction: the target's id and the number of rows per table, never content.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.cases.models import Case, CaseParticipant
from app.concerns.models import Concern
from app.events.models import OutboxEvent
from app.persons.models import Person
from app.platform.idempotency import IdempotencyRecord
from app.platform.lookup import lock_row
from app.retention.classes import Record, Schedule
from app.retention.due import (
    PersonRefs,
    due_cases_query,
    due_concerns_query,
    due_persons_query,
)
from app.retention.hooks import PurgeHooks
from app.retention.models import LegalHold
from app.retention.plan import ROOT, CasePlan

CHUNK = 500


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


async def case_rows(
    session: AsyncSession, plan: CasePlan, case_id: uuid.UUID
) -> dict[str, list[Any]]:
    """The primary keys of every row of the case, table by table (parents first)."""
    found: dict[str, list[Any]] = {ROOT: [case_id]}
    for item in plan.owned:
        if item.name == ROOT:
            continue
        keys: list[Any] = []
        for edge in item.edges:
            column = item.table.c[edge.column]
            parents = found.get(edge.parent, [])
            parent = plan.table(edge.parent)
            if parents and edge.referred != parent.key.name:
                referred = parent.table.c[edge.referred]
                parents = [
                    value
                    for chunk in _chunks(parents)
                    for value in await session.scalars(
                        select(referred).where(parent.key.in_(chunk))
                    )
                ]
            for chunk in _chunks(parents):
                rows = await session.scalars(select(item.key).where(column.in_(chunk)))
                keys.extend(rows)
        found[item.name] = list(dict.fromkeys(keys))
    return found


async def _delete_keys(session: AsyncSession, table: Table, keys: Sequence[Any]) -> None:
    (pk,) = table.primary_key.columns
    for chunk in _chunks(keys):
        await session.execute(
            delete(table).where(pk.in_(chunk)), execution_options={"synchronize_session": False}
        )


def _lifted_holds(target_type: str, target_id: uuid.UUID) -> Any:
    """History of holds on a purged target goes with it (only lifted ones can exist)."""
    return delete(LegalHold).where(
        LegalHold.target_type == target_type,
        LegalHold.target_id == target_id,
        LegalHold.lifted_at.is_not(None),
    )


async def _still_due(session: AsyncSession, stmt: Any, key: Any, target: Any) -> bool:
    return await session.scalar(stmt.where(key == target).order_by(None)) is not None


async def purge_case(
    session: AsyncSession,
    plan: CasePlan,
    schedule: Schedule,
    hooks: PurgeHooks,
    case_id: uuid.UUID,
    now: datetime,
) -> dict[str, int] | None:
    """Delete the case and every row of it; None if it is gone, held or no longer due."""
    if not await lock_row(session, Case, case_id):
        return None
    # Persons taking part: a hold on one of them must not be placed mid-purge. Placing
    # a hold locks its target's row (holds.place, FOR UPDATE), so the purge share-locks
    # the *persons'* rows (not the participation rows, which a hold never touches):
    # a hold on a participant waits for this transaction, and one committed before
    # the lock is seen by the re-check below.
    participants = select(CaseParticipant.person_id).where(CaseParticipant.case_id == case_id)
    await session.execute(
        select(Person.id).where(Person.id.in_(participants)).with_for_update(read=True)
    )
    if not await _still_due(session, due_cases_query(schedule, now), Case.id, case_id):
        return None
    rows = await case_rows(session, plan, case_id)
    await hooks(session, case_id)
    for table, column in plan.detach:
        parent = next(fk.column.table.name for fk in table.c[column].foreign_keys)
        for chunk in _chunks(rows.get(parent, [])):
            await session.execute(
                update(table).where(table.c[column].in_(chunk)).values({column: None}),
                execution_options={"synchronize_session": False},
            )
    for item in plan.owned:
        for column in item.self_refs:
            for chunk in _chunks(rows[item.name]):
                await session.execute(
                    update(item.table).where(item.key.in_(chunk)).values({column: None}),
                    execution_options={"synchronize_session": False},
                )
    for item in reversed(plan.owned):
        await _delete_keys(session, item.table, rows[item.name])
    holds = (await session.execute(_lifted_holds("case", case_id))).rowcount  # type: ignore[attr-defined]
    counts = {name: len(keys) for name, keys in rows.items() if keys}
    if holds:
        counts[LegalHold.__tablename__] = holds
    total = sum(counts.values())
    record(
        session,
        None,
        "retention.case.purged",
        "case",
        case_id,
        purpose=f"{total} rows in {len(counts)} tables",
    )
    for name, count in sorted(counts.items()):
        record(session, None, "retention.case.rows_purged", name, case_id, purpose=str(count))
    return counts


async def purge_concern(
    session: AsyncSession, schedule: Schedule, concern_id: uuid.UUID, now: datetime
) -> bool:
    if not await lock_row(session, Concern, concern_id):
        return False
    if not await _still_due(session, due_concerns_query(schedule, now), Concern.id, concern_id):
        return False
    await session.execute(
        delete(Concern).where(Concern.id == concern_id),
        execution_options={"synchronize_session": False},
    )
    record(session, None, "retention.concern.purged", "concern", concern_id, purpose="1 row")
    return True


async def purge_person(
    session: AsyncSession,
    schedule: Schedule,
    refs: PersonRefs,
    person_id: uuid.UUID,
    now: datetime,
) -> dict[str, int] | None:
    if not await lock_row(session, Person, person_id):
        return None
    if not await _still_due(session, due_persons_query(schedule, refs, now), Person.id, person_id):
        return None
    counts: dict[str, int] = {}
    for table, column in refs.own:
        table_ = table if isinstance(table, Table) else None
        assert table_ is not None
        result = await session.execute(
            delete(table_).where(table_.c[column] == person_id),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount:  # type: ignore[attr-defined]
            counts[table_.name] = result.rowcount  # type: ignore[attr-defined]
    holds = (await session.execute(_lifted_holds("person", person_id))).rowcount  # type: ignore[attr-defined]
    if holds:
        counts[LegalHold.__tablename__] = holds
    await session.execute(
        delete(Person).where(Person.id == person_id),
        execution_options={"synchronize_session": False},
    )
    counts[Person.__tablename__] = 1
    summary = ", ".join(f"{name}={n}" for name, n in sorted(counts.items()))
    record(session, None, "retention.person.purged", "person", person_id, purpose=summary[:200])
    return counts


def expired_idempotency(schedule: Schedule, now: datetime) -> Any:
    cutoff = now - schedule.period(Record.IDEMPOTENCY)
    return IdempotencyRecord.expires_at <= cutoff


def old_events(schedule: Schedule, now: datetime) -> Any:
    """Outbox events past their period. The feed is polled (no delivery state exists
    yet); the webhook engine must add "and delivered" to this condition."""
    return OutboxEvent.occurred_at <= now - schedule.period(Record.EVENT)


async def count_where(session: AsyncSession, table: Any, condition: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(table).where(condition)) or 0)


async def purge_idempotency(session: AsyncSession, schedule: Schedule, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(expired_idempotency(schedule, now)),
        execution_options={"synchronize_session": False},
    )
    n = int(result.rowcount)  # type: ignore[attr-defined]
    if n:
        record(
            session,
            None,
            "retention.idempotency.purged",
            "idempotency_key",
            None,
            purpose=f"{n} rows",
        )
    return n


async def purge_events(session: AsyncSession, schedule: Schedule, now: datetime) -> int:
    condition = old_events(schedule, now)
    span = (
        await session.execute(
            select(
                func.count(), func.min(OutboxEvent.sequence), func.max(OutboxEvent.sequence)
            ).where(condition)
        )
    ).one()
    if not span[0]:
        return 0
    await session.execute(
        delete(OutboxEvent).where(condition), execution_options={"synchronize_session": False}
    )
    record(
        session,
        None,
        "retention.events.purged",
        "outbox_event",
        None,
        purpose=f"{span[0]} rows, sequence {span[1]}-{span[2]}",
    )
    return int(span[0])

"""Arrange retention scenarios in the test's transaction and run retention on it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.cases.models import Case
from app.concerns.models import Concern
from app.directory.models import Team
from app.persons.models import Person
from app.platform.db import Base, Database, utcnow
from app.retention.classes import Schedule
from app.retention.hooks import PurgeHooks
from app.retention.models import LegalHold
from app.retention.plan import build_plan
from app.retention.service import RetentionReport, run
from tests.cases.factories import add_note, add_participant, add_person, make_case
from tests.world import Actor

#: Far enough ahead that every default period (12 years at most for cases) has passed.
LATER = timedelta(days=13 * 365)
PLAN = build_plan(Base.metadata)


def future() -> datetime:
    return utcnow() + LATER


async def closed_case(
    db: AsyncSession, team: Team, lead: Actor, *, closed_at: datetime | None = None
) -> Case:
    case = await make_case(db, team, lead, status="closed", closed_at=closed_at or utcnow())
    await add_note(db, case, lead, text="NOTE-MARKER calm visit")
    return case


async def person_in(db: AsyncSession, case: Case, by: Actor, given: str = "Pia") -> Person:
    person = await add_person(db, by, given, "Purge-Marker")
    await add_participant(db, case, by, "victim", person)
    return person


async def hold(db: AsyncSession, by: Actor, kind: str, target: uuid.UUID) -> LegalHold:
    row = LegalHold(
        target_type=kind,
        target_id=target,
        ground="other",
        reference="Matter 12/2026",
        placed_by=by.id,
    )
    db.add(row)
    await db.flush()
    return row


async def dismissed_concern(
    db: AsyncSession, team: Team, by: Actor, person: Person, *, at: datetime | None = None
) -> Concern:
    now = at or utcnow()
    concern = Concern(
        team_id=team.id,
        person_id=person.id,
        # Written as before revision 0025 (plain text): a purge takes the row either way.
        subject_given_name_plain=person.given_name,
        subject_family_name_plain=person.family_name,
        description_plain="CONCERN-MARKER worrying messages",
        legal_basis="threat_to_life_or_health_notification",
        urgency="routine",
        status="no_further_action",
        status_changed_at=now,
        submitted_by=by.id,
        submitter_organisation_id=by.org_id,
        decision="dismiss",
        decision_reason_plain="REASON-MARKER nothing further",
        screened_by=by.id,
        screened_at=now,
    )
    db.add(concern)
    await db.flush()
    return concern


async def retain(
    connection: AsyncConnection,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    schedule: Schedule | None = None,
    hooks: PurgeHooks | None = None,
) -> RetentionReport:
    return await run(
        Database.bound_to(connection),
        schedule or Schedule(),
        hooks or PurgeHooks(),
        dry_run=dry_run,
        now=now or future(),
        plan=PLAN,
    )


async def exists(db: AsyncSession, model: Any, row_id: uuid.UUID) -> bool:
    return bool(await db.scalar(select(func.count()).select_from(model).where(model.id == row_id)))


async def rows_of_case(db: AsyncSession, case_id: uuid.UUID) -> dict[str, int]:
    """Rows left in every table the plan ties to the case (directly or through a parent)."""
    from app.retention.purge import case_rows

    found = await case_rows(db, PLAN, case_id)
    found.pop("cases")
    left = {name: len(keys) for name, keys in found.items() if keys}
    if await exists(db, Case, case_id):
        left["cases"] = 1
    return left

"""Placing, listing and lifting legal holds (the auditor's; app/auth/policy.py).

A hold names a case or a person that exists; placing it locks the target's row,
so it cannot slip between a purge's re-check and its delete (the purge takes the
same lock). Every placement, lift and read is audited by the hold's id and its
target's id, never by its ground.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.policy import Action
from app.auth.principal import Principal
from app.cases.models import Case
from app.persons.models import Person
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.lookup import lock_row
from app.platform.pagination import apply_keyset, page_of
from app.platform.problems import Conflict, NotFound, denial
from app.retention.models import LegalHold
from app.retention.schemas import (
    HoldGround,
    HoldTarget,
    LegalHoldCreate,
    LegalHoldLift,
    LegalHoldRead,
    LiftGround,
)

TARGETS: dict[HoldTarget, Any] = {HoldTarget.CASE: Case, HoldTarget.PERSON: Person}


def _not_found(action: Action, principal: Principal, kind: str, target_id: Any) -> NotFound:
    return NotFound(
        f"No such {kind.replace('_', ' ')}.",
        denied=denial(str(action), principal, kind, target_id, "not found"),
    )


def to_read(hold: LegalHold) -> LegalHoldRead:
    return LegalHoldRead(
        id=hold.id,
        target_type=HoldTarget(hold.target_type),
        target_id=hold.target_id,
        ground=HoldGround(hold.ground),
        reference=hold.reference,
        placed_by=hold.placed_by,
        created_at=hold.created_at,
        active=hold.lifted_at is None,
        lifted_at=hold.lifted_at,
        lifted_by=hold.lifted_by,
        lift_ground=LiftGround(hold.lift_ground) if hold.lift_ground else None,
        lift_reference=hold.lift_reference,
        version=hold.version,
    )


async def place(session: AsyncSession, principal: Principal, data: LegalHoldCreate) -> LegalHold:
    model = TARGETS[data.target_type]
    if not await lock_row(session, model, data.target_id):
        raise _not_found(Action.LEGAL_HOLD_PLACE, principal, data.target_type.value, data.target_id)
    hold = LegalHold(
        id=uuid.uuid4(),
        target_type=data.target_type.value,
        target_id=data.target_id,
        ground=data.ground.value,
        reference=data.reference,
        placed_by=principal.user_id,
    )
    session.add(hold)
    await session.flush()
    record(
        session,
        principal,
        "legal_hold.placed",
        "legal_hold",
        hold.id,
        purpose=f"{hold.target_type} {hold.target_id}",
    )
    return hold


async def get(
    session: AsyncSession, principal: Principal, hold_id: uuid.UUID, action: Action
) -> LegalHold:
    hold = await session.get(LegalHold, hold_id)
    if hold is None:
        raise _not_found(action, principal, "legal_hold", hold_id)
    return hold


def read(session: AsyncSession, principal: Principal, hold: LegalHold) -> LegalHoldRead:
    record(session, principal, "legal_hold.read", "legal_hold", hold.id)
    return to_read(hold)


async def list_holds(
    session: AsyncSession,
    principal: Principal,
    *,
    target_type: HoldTarget | None,
    target_id: uuid.UUID | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[LegalHold], str | None]:
    stmt: Select[Any] = select(LegalHold)
    if target_type is not None:
        stmt = stmt.where(LegalHold.target_type == target_type.value)
    if target_id is not None:
        stmt = stmt.where(LegalHold.target_id == target_id)
    if active is True:
        stmt = stmt.where(LegalHold.lifted_at.is_(None))
    elif active is False:
        stmt = stmt.where(LegalHold.lifted_at.is_not(None))
    stmt = apply_keyset(stmt, LegalHold.created_at, LegalHold.id, cursor, limit)
    page = page_of((await session.scalars(stmt)).all(), limit, "created_at")
    record(session, principal, "legal_hold.listed", "legal_hold", None)
    return page


async def lift(
    session: AsyncSession,
    principal: Principal,
    hold: LegalHold,
    data: LegalHoldLift,
    expected_version: int,
) -> LegalHold:
    check_version(expected_version, hold.version)
    if hold.lifted_at is not None:
        raise Conflict("This hold has already been lifted.")
    hold.lifted_at = utcnow()
    hold.lifted_by = principal.user_id
    hold.lift_ground = data.ground.value
    hold.lift_reference = data.reference
    await session.flush()
    record(
        session,
        principal,
        "legal_hold.lifted",
        "legal_hold",
        hold.id,
        purpose=f"{hold.target_type} {hold.target_id}",
    )
    return hold

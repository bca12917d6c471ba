"""Measures: concrete steps owned by one organisation, with a deadline and a status.

Their definitions are plan content (editable only while the plan is a draft);
their status is follow-up and moves at any time, but only in the hands of the
responsible organisation's members or the case's leads. Every status change
is audited with the old and new status.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal
from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess, is_team_coordinator, not_found
from app.cases.exclusions import MustNotReceive, Party, may_receive
from app.cases.models import CaseMember
from app.cases.schemas import CaseRole
from app.directory.models import Organisation, User
from app.events.outbox import EventType, emit
from app.plans.models import Measure, Plan
from app.plans.schemas import (
    OPEN_STATUSES,
    MeasureCreate,
    MeasureStatus,
    MeasureStatusChange,
    MeasureUpdate,
)
from app.plans.service import _require_draft, _touch, current_version, live_measures
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.problems import Forbidden, denial, field_error


async def _check_responsible(
    session: AsyncSession,
    access: CaseAccess,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID | None,
) -> None:
    if await session.get(Organisation, organisation_id) is None:
        raise field_error("responsible_organisation_id", "No such organisation.")
    if not await may_receive(session, access.case.id, Party(organisation_id=organisation_id)):
        raise MustNotReceive("That organisation is on this case's must-not-receive list.")
    if user_id is None:
        return
    found = await session.scalar(
        select(CaseMember.id)
        .join(User, User.id == CaseMember.user_id)
        .where(
            CaseMember.case_id == access.case.id,
            CaseMember.user_id == user_id,
            CaseMember.removed_at.is_(None),
            User.organisation_id == organisation_id,
        )
    )
    if found is None:
        raise field_error(
            "responsible_user_id",
            "The responsible member must be a member of the case from that organisation.",
        )


async def list_measures(session: AsyncSession, access: CaseAccess, plan: Plan) -> Sequence[Measure]:
    rows = await live_measures(session, plan)
    access.audit(session, "plan.measures.read", "plan", plan.id)
    return rows


async def get_measure(
    session: AsyncSession, access: CaseAccess, plan: Plan, measure_id: uuid.UUID, action: str
) -> Measure:
    measure = await session.scalar(
        select(Measure).where(
            Measure.id == measure_id, Measure.plan_id == plan.id, Measure.removed_in.is_(None)
        )
    )
    if measure is None:
        raise not_found(action, access.principal, "measure", measure_id)
    return measure


async def add_measure(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, plan: Plan, data: MeasureCreate
) -> Measure:
    version = await current_version(session, plan)
    _require_draft(version)
    await _check_responsible(
        session, access, data.responsible_organisation_id, data.responsible_user_id
    )
    measure = Measure(
        id=uuid.uuid4(),
        plan_id=plan.id,
        case_id=plan.case_id,
        category=data.category.value,
        responsible_organisation_id=data.responsible_organisation_id,
        responsible_user_id=data.responsible_user_id,
        due_date=data.due_date,
        status="planned",
        added_in=version.number,
        created_by=access.principal.user_id,
    )
    cipher = await case_cipher(session, keyring, plan.case_id, create=True)
    seal_text(cipher, measure, "description", data.description)
    session.add(measure)
    _touch(plan)
    await session.flush()
    access.audit(session, "plan.measure.added", "measure", measure.id)
    return measure


async def update_measure(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    measure: Measure,
    data: MeasureUpdate,
    expected: int,
) -> None:
    check_version(expected, measure.version)
    version = await current_version(session, plan)
    _require_draft(version)
    values = data.model_dump(exclude_unset=True, exclude={"remove"})
    organisation_id = values.get("responsible_organisation_id", measure.responsible_organisation_id)
    user_id = values.get("responsible_user_id", measure.responsible_user_id)
    if "responsible_organisation_id" in values or "responsible_user_id" in values:
        await _check_responsible(session, access, organisation_id, user_id)
    for name, value in values.items():
        if value is None and name in {"category", "description", "responsible_organisation_id"}:
            raise field_error(name, f"{name} cannot be emptied.")
        if name == "description":
            cipher = await case_cipher(session, keyring, plan.case_id, create=True)
            seal_text(cipher, measure, name, value)
        else:
            setattr(measure, name, value.value if name == "category" else value)
    if data.remove:
        measure.removed_in = version.number
    _touch(plan)
    await session.flush()
    access.audit(
        session,
        "plan.measure.removed" if data.remove else "plan.measure.updated",
        "measure",
        measure.id,
    )


async def may_change_status(session: AsyncSession, access: CaseAccess, measure: Measure) -> bool:
    """The responsible organisation's members, and the case's leads (or coordinator)."""
    if access.principal.organisation_id == measure.responsible_organisation_id:
        return True
    if access.role == CaseRole.LEAD:
        return True
    return await is_team_coordinator(session, access.principal, access.case.team_id)


async def change_status(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    measure: Measure,
    data: MeasureStatusChange,
    expected: int,
) -> None:
    if not await may_change_status(session, access, measure):
        raise Forbidden(
            "Only the responsible organisation or a lead of the case changes this measure.",
            denied=denial(
                Action.CASE_MEASURE_STATUS,
                access.principal,
                "measure",
                measure.id,
                "not responsible organisation",
            ),
        )
    check_version(expected, measure.version)
    cipher = await case_cipher(session, keyring, plan.case_id, create=True)
    await _set_status(
        session,
        cipher,
        access.principal,
        plan,
        measure,
        data.status,
        data.outcome_note,
        access.purpose,
    )


async def _set_status(
    session: AsyncSession,
    cipher: CaseCipher,
    actor: Principal | None,
    plan: Plan | None,
    measure: Measure,
    status: MeasureStatus,
    note: str | None,
    purpose: str,
) -> None:
    """Record a status change (who, when, why: the note sealed under the case key)
    and audit it."""
    previous = measure.status
    measure.status = status.value
    seal_text(cipher, measure, "outcome_note", note)
    measure.status_changed_at = utcnow()
    measure.status_changed_by = actor.user_id if actor else None
    if plan is not None:
        _touch(plan)
    await session.flush()
    audit.record(
        session,
        actor,
        f"plan.measure.status.{previous}.{status.value}",
        "measure",
        measure.id,
        purpose=purpose,
    )
    emit(session, EventType.MEASURE_STATUS_CHANGED, actor, "measure", measure.id, measure.case_id)


async def follow_linked(
    session: AsyncSession,
    cipher: CaseCipher,
    actor: Principal | None,
    measure_id: uuid.UUID,
    status: MeasureStatus,
    note: str,
    purpose: str,
) -> None:
    """A linked process (a referral) settles or advances its measure, while still open.

    A measure someone already settled by hand is left as they left it. ``cipher``
    is the case's (a referral links a measure of its own case only); a shredded
    case's measure (the expiry sweep) gets no note.
    """
    measure = await session.get(Measure, measure_id)
    if (
        measure is None
        or measure.case_id != cipher.case_id
        or measure.removed_in is not None
        or measure.status not in {s.value for s in OPEN_STATUSES}
        or measure.status == status.value
    ):
        return
    plan = await session.get(Plan, measure.plan_id)
    kept = None if cipher.shredded else note
    await _set_status(session, cipher, actor, plan, measure, status, kept, purpose)

"""Plans and their versions: draft, agree (freeze), revise, review.

Only the newest version can be a draft. Agreeing freezes it and snapshots the
measures' definitions; any later change to the content starts a new draft
copied from the agreed one (``revise``), so what a group agreed stays
readable exactly as it was. Services only flush; every read and write is
audited in the request's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.predicates import may_see_protected
from app.casekeys.freetext import (
    open_json_text,
    open_text,
    read_values,
    seal_json_text,
    seal_text,
)
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess, not_found
from app.cases.lifecycle import Scheme
from app.events.outbox import EventType, emit
from app.plans.models import Measure, Meeting, Plan, PlanVersion
from app.plans.schemas import (
    PLAN_KIND,
    Contact,
    MeasureRead,
    PlanAgree,
    PlanCreate,
    PlanKind,
    PlanRead,
    PlanReview,
    PlanRevise,
    PlanSafeContact,
    PlanUpdate,
    PlanVersionRead,
)
from app.platform.crypto import CaseCipher, FieldContext, KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.problems import Conflict, Unprocessable


class PlanLocked(Conflict):
    type = "plan-locked"
    title = "Plan version is agreed"


class PlanExists(Conflict):
    type = "plan-exists"
    title = "The case already has a plan"


def kind_of(access: CaseAccess) -> str:
    return PLAN_KIND[Scheme(access.case.scheme)].value


async def get_plan(session: AsyncSession, access: CaseAccess, action: str) -> Plan:
    plan = await session.scalar(
        select(Plan).where(Plan.case_id == access.case.id, Plan.kind == kind_of(access))
    )
    if plan is None:
        raise not_found(action, access.principal, "plan", access.case.id)
    return plan


async def current_version(session: AsyncSession, plan: Plan) -> PlanVersion:
    found = await session.scalar(
        select(PlanVersion).where(
            PlanVersion.plan_id == plan.id, PlanVersion.number == plan.current_number
        )
    )
    assert found is not None, "a plan always has its current version"
    return found


async def live_measures(session: AsyncSession, plan: Plan) -> Sequence[Measure]:
    """Measures of the newest version (not dropped from it)."""
    return (
        await session.scalars(
            select(Measure)
            .where(Measure.plan_id == plan.id, Measure.removed_in.is_(None))
            .order_by(Measure.created_at, Measure.id)
        )
    ).all()


def may_see_safe_contact(access: CaseAccess) -> bool:
    """The protected-field rule (app/auth/predicates.py), through this case."""
    owners = () if access.role is None else (access.case.owner_organisation_id,)
    return may_see_protected(access.principal, owners)


def seal_safe_contact(
    case: CaseCipher, version: PlanVersion, value: PlanSafeContact | None
) -> None:
    """Seal under the case's data key (``case``: app/casekeys/service.py)."""
    version.safe_contact_enc = (
        None
        if value is None
        else case.seal_json(
            value.model_dump(mode="json"), FieldContext.of(version, "safe_contact_enc")
        )
    )


def open_safe_contact(case: CaseCipher, version: PlanVersion) -> PlanSafeContact | None:
    if version.safe_contact_enc is None:
        return None
    raw = case.open_json(version.safe_contact_enc, FieldContext.of(version, "safe_contact_enc"))
    return PlanSafeContact.model_validate(raw)


def open_revision_reason(case: CaseCipher, version: PlanVersion) -> str | None:
    if version.revision_reason_enc is None:
        return None
    attr = FieldContext.of(version, "revision_reason_enc")
    reason: str = case.open(version.revision_reason_enc, attr)
    return reason


def measure_read(case: CaseCipher, measure: Measure) -> MeasureRead:
    """The measure; its description and outcome note open under the case key (410
    once shredded)."""
    return MeasureRead.model_validate(read_values(case, measure, ("description", "outcome_note")))


def version_read(case: CaseCipher, access: CaseAccess, version: PlanVersion) -> PlanVersionRead:
    visible = may_see_safe_contact(access)
    contacts = open_json_text(case, version, "contacts") or []
    return PlanVersionRead(
        number=version.number,
        status="agreed" if version.agreed_at else "draft",
        summary=open_text(case, version, "summary"),
        contacts=[Contact.model_validate(c) for c in contacts],
        internal_note=open_text(case, version, "internal_note"),
        revision_reason=open_revision_reason(case, version),
        safe_contact=open_safe_contact(case, version) if visible else None,
        safe_contact_withheld=version.safe_contact_enc is not None and not visible,
        based_on_number=version.based_on_number,
        created_at=version.created_at,
        created_by=version.created_by,
        agreed_at=version.agreed_at,
        agreed_by=version.agreed_by,
        agreed_in_meeting_id=version.agreed_in_meeting_id,
        measures_snapshot=open_json_text(case, version, "measures_snapshot"),
    )


async def plan_read(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, plan: Plan
) -> PlanRead:
    version = await current_version(session, plan)
    measures = await live_measures(session, plan)
    case = await case_cipher(session, keyring, plan.case_id)
    return PlanRead(
        id=plan.id,
        case_id=plan.case_id,
        kind=PlanKind(plan.kind),
        version=plan.version,
        current=version_read(case, access, version),
        measures=[measure_read(case, m) for m in measures],
        last_reviewed_at=plan.last_reviewed_at,
        last_review_note=open_text(case, plan, "last_review_note"),
    )


def _check_safe_contact_scheme(access: CaseAccess, value: PlanSafeContact | None) -> None:
    if value is not None and access.case.scheme != Scheme.MARAK:
        raise Unprocessable("Only a Marak safety plan has a safe-contact section.")


async def create_plan(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, data: PlanCreate
) -> Plan:
    _check_safe_contact_scheme(access, data.safe_contact)
    existing = await session.scalar(
        select(Plan.id).where(Plan.case_id == access.case.id, Plan.kind == kind_of(access))
    )
    if existing is not None:
        raise PlanExists("This case already has its plan; edit its draft or start a new one.")
    plan = Plan(case_id=access.case.id, kind=kind_of(access), created_by=access.principal.user_id)
    session.add(plan)
    await session.flush()
    version = PlanVersion(
        id=uuid.uuid4(),
        plan_id=plan.id,
        number=1,
        created_by=access.principal.user_id,
    )
    case = await case_cipher(session, keyring, access.case.id, create=True)
    seal_text(case, version, "summary", data.summary)
    seal_json_text(case, version, "contacts", [c.model_dump(mode="json") for c in data.contacts])
    seal_text(case, version, "internal_note", data.internal_note)
    seal_safe_contact(case, version, data.safe_contact)
    session.add(version)
    await session.flush()
    access.audit(session, "plan.created", "plan", plan.id)
    return plan


def _require_draft(version: PlanVersion) -> None:
    if version.agreed_at is not None:
        raise PlanLocked(
            f"Version {version.number} was agreed and is frozen; start a new draft from it.",
            extra={"version": version.number},
        )


def _touch(plan: Plan) -> None:
    """Bump the plan's ETag when anything inside it changes."""
    plan.updated_at = utcnow()


async def update_plan(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    data: PlanUpdate,
    expected: int,
) -> None:
    check_version(expected, plan.version)
    version = await current_version(session, plan)
    _require_draft(version)
    _check_safe_contact_scheme(access, data.safe_contact)
    values = data.model_dump(exclude_unset=True)
    case = await case_cipher(session, keyring, access.case.id, create=True)
    if "summary" in values:
        seal_text(case, version, "summary", data.summary)
    if "internal_note" in values:
        seal_text(case, version, "internal_note", data.internal_note)
    if data.contacts is not None:
        contacts = [c.model_dump(mode="json") for c in data.contacts]
        seal_json_text(case, version, "contacts", contacts)
    if "safe_contact" in values:
        seal_safe_contact(case, version, data.safe_contact)
    _touch(plan)
    await session.flush()
    access.audit(session, "plan.updated", "plan", plan.id)


def snapshot(case: CaseCipher, measures: Sequence[Measure]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(m.id),
            "category": m.category,
            "description": open_text(case, m, "description"),
            "responsible_organisation_id": str(m.responsible_organisation_id),
            "responsible_user_id": str(m.responsible_user_id) if m.responsible_user_id else None,
            "due_date": m.due_date.isoformat() if m.due_date else None,
        }
        for m in measures
    ]


async def agree_plan(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    data: PlanAgree,
    expected: int,
) -> None:
    """Freeze the draft. Usually done in the meeting by its chair or the lead."""
    check_version(expected, plan.version)
    version = await current_version(session, plan)
    _require_draft(version)
    if data.meeting_id is not None:
        meeting = await session.scalar(
            select(Meeting).where(
                Meeting.id == data.meeting_id, Meeting.team_id == access.case.team_id
            )
        )
        if meeting is None:
            raise Unprocessable("No such meeting of this case's team.")
        if meeting.closed_at is not None:
            raise Conflict("That meeting is closed; agree the plan in an open meeting.")
    case = await case_cipher(session, keyring, access.case.id, create=True)
    agreed = snapshot(case, await live_measures(session, plan))
    seal_json_text(case, version, "measures_snapshot", agreed)
    version.agreed_at = utcnow()
    version.agreed_by = access.principal.user_id
    version.agreed_in_meeting_id = data.meeting_id
    if data.next_review_at is not None:
        access.case.next_review_at = data.next_review_at
    _touch(plan)
    await session.flush()
    access.audit(session, "plan.agreed", "plan", plan.id)
    emit(session, EventType.PLAN_AGREED, access.principal, "plan", plan.id, plan.case_id)


async def revise_plan(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    data: PlanRevise,
    expected: int,
) -> None:
    """Start a new draft from the agreed version (the agreed one stays as it was)."""
    check_version(expected, plan.version)
    agreed = await current_version(session, plan)
    if agreed.agreed_at is None:
        raise Conflict("The current version is still a draft; edit it instead.")
    draft = PlanVersion(
        id=uuid.uuid4(),
        plan_id=plan.id,
        number=agreed.number + 1,
        based_on_number=agreed.number,
        created_by=access.principal.user_id,
    )
    # The envelope is bound to its row, so the copy is opened and sealed anew.
    case = await case_cipher(session, keyring, access.case.id, create=True)
    seal_text(case, draft, "summary", open_text(case, agreed, "summary"))
    seal_json_text(case, draft, "contacts", list(open_json_text(case, agreed, "contacts") or []))
    seal_safe_contact(case, draft, open_safe_contact(case, agreed))
    seal_text(case, draft, "internal_note", open_text(case, agreed, "internal_note"))
    # The reason is the draft's, sealed with it; the audit row holds no free text.
    draft.revision_reason_enc = case.seal(
        data.reason, FieldContext.of(draft, "revision_reason_enc")
    )
    session.add(draft)
    plan.current_number = draft.number
    _touch(plan)
    await session.flush()
    access.audit(session, "plan.revised", "plan", plan.id)


async def review_plan(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    data: PlanReview,
    expected: int,
) -> None:
    """The group's follow-up: what was found, and when to look again."""
    check_version(expected, plan.version)
    plan.last_reviewed_at = utcnow()
    plan.last_reviewed_by = access.principal.user_id
    case = await case_cipher(session, keyring, access.case.id, create=True)
    seal_text(case, plan, "last_review_note", data.note)
    access.case.next_review_at = data.next_review_at
    _touch(plan)
    await session.flush()
    access.audit(session, "plan.reviewed", "plan", plan.id)


async def list_versions(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, plan: Plan
) -> list[PlanVersionRead]:
    rows = (
        await session.scalars(
            select(PlanVersion)
            .where(PlanVersion.plan_id == plan.id)
            .order_by(PlanVersion.number.desc())
        )
    ).all()
    access.audit(session, "plan.versions.read", "plan", plan.id)
    case = await case_cipher(session, keyring, plan.case_id)
    return [version_read(case, access, v) for v in rows]

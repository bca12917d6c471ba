"""Moving a referral along app/referrals/states.py, from either side or by the system.

Sending (draft -> requested) is the disclosure: the basis and the
must-not-receive list are checked again at that moment, the chosen fields are
copied and sealed, the deadlines are set, and the disclosure is audited
against the subject with its legal basis. A linked plan measure follows the
referral (in progress, done, not done).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher, case_ciphers
from app.directory.models import Organisation
from app.events.outbox import EventType, emit
from app.persons.service import load_facts
from app.plans.measures import follow_linked
from app.plans.schemas import MeasureStatus
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.etag import check_version
from app.platform.problems import Conflict, Forbidden, denial
from app.referrals import service, views
from app.referrals.models import Referral
from app.referrals.schemas import ReferralTransitionCreate, SharedField
from app.referrals.service import ReferralAccess, add_event, audit_person
from app.referrals.states import (
    NEEDS_REASON,
    UNANSWERED,
    ReasonCode,
    Side,
    Status,
    allowed,
    side_of,
)

EXPIRED_TEXT = "No answer from the service before the referral expired."


class IllegalReferralMove(Conflict):
    type = "illegal-transition"
    title = "Transition not allowed"


#: How a linked measure follows its referral.
MEASURE_FOLLOWS = {
    Status.IN_PROGRESS: MeasureStatus.IN_PROGRESS,
    Status.COMPLETED: MeasureStatus.DONE,
    Status.REJECTED: MeasureStatus.NOT_DONE,
    Status.FAILED: MeasureStatus.NOT_DONE,
}


async def transition(
    session: AsyncSession,
    keyring: KeyRing,
    settings: Settings,
    access: ReferralAccess,
    data: ReferralTransitionCreate,
    expected: int,
) -> Referral:
    referral, principal = access.referral, access.principal
    if not access.writable:
        raise Forbidden(
            "Emergency access is read-only.",
            denied=denial(
                access.action, principal, "referral", referral.id, "emergency access is read-only"
            ),
        )
    check_version(expected, referral.version)
    current = Status(referral.status)
    held = Status(referral.held_from) if referral.held_from else None
    owner = side_of(current, data.to, held)
    if owner != access.side:
        mine = allowed(current, held, access.side)
        detail = f"A referral cannot go from '{current}' to '{data.to}'"
        if owner is not None:
            detail += f"; that move is the {owner.value}'s"
        raise IllegalReferralMove(
            detail + ".",
            extra={
                "from": current.value,
                "to": data.to.value,
                "allowed": [s.value for s in mine],
            },
        )
    now = clock.now()
    if data.to == Status.REQUESTED:
        await _send(session, keyring, settings, access, now)
    cipher = await case_cipher(session, keyring, referral.case_id, create=True)
    apply(cipher, referral, data.to, now, data.reason_code, data.reason_text)
    if data.to == Status.COMPLETED:
        referral.outcome = data.outcome.value if data.outcome else None
        seal_text(cipher, referral, "outcome_text", data.outcome_text)
    await _record(session, cipher, referral, current, access.side, principal, now)
    return referral


def apply(
    cipher: CaseCipher,
    referral: Referral,
    to: Status,
    now: datetime,
    reason_code: ReasonCode | None = None,
    reason_text: str | None = None,
) -> None:
    """Set the row for a move the state machine allowed (the reason text sealed
    under the case's ``cipher``)."""
    current = Status(referral.status)
    if to == Status.ON_HOLD:
        referral.held_from = current.value
        referral.reason_code = None
        seal_text(cipher, referral, "reason_text", reason_text)
    elif current == Status.ON_HOLD:
        referral.held_from = None
        referral.reason_code = None
        seal_text(cipher, referral, "reason_text", None)
    if to in NEEDS_REASON:
        referral.reason_code = reason_code.value if reason_code else None
        seal_text(cipher, referral, "reason_text", reason_text)
    if to == Status.ACCEPTED and referral.accepted_at is None:
        referral.accepted_at = now
    if to in NEEDS_REASON or to == Status.COMPLETED:
        referral.ended_at = now
    referral.status = to.value


async def _record(
    session: AsyncSession,
    cipher: CaseCipher,
    referral: Referral,
    before: Status,
    side: Side,
    actor: Principal | None,
    now: datetime,
) -> None:
    await session.flush()
    add_event(session, cipher, referral, before.value, side, actor, now)
    kind = (
        EventType.REFERRAL_REQUESTED
        if referral.status == "requested"
        else EventType.REFERRAL_TRANSITIONED
    )
    emit(session, kind, actor, "referral", referral.id, referral.case_id)
    audit_person(
        session,
        actor,
        f"referral.transition.{before.value}.{referral.status}",
        referral,
        f"service referral ({side.value})",
    )
    follows = MEASURE_FOLLOWS.get(Status(referral.status))
    if referral.measure_id is not None and follows is not None:
        note = f"Referral {referral.status}"
        if referral.outcome:
            note += f": {referral.outcome}"
        elif referral.reason_code:
            note += f": {referral.reason_code}"
        await follow_linked(
            session, cipher, actor, referral.measure_id, follows, note, f"referral {referral.id}"
        )


async def _send(
    session: AsyncSession,
    keyring: KeyRing,
    settings: Settings,
    access: ReferralAccess,
    now: datetime,
) -> None:
    """The disclosure: check again, copy and seal the chosen fields, set the deadlines."""
    referral, principal = access.referral, access.principal
    assert access.case is not None  # sending is the referrer's move
    case = access.case.case
    # Still a participant: the check loads the person the values are copied from.
    person = await service.check_subject(session, case, referral.subject_person_id)
    entry = await service.check_service(session, referral.service_id)
    await service.check_recipients(
        session, principal, case, person.id, referral.provider_organisation_id
    )
    await service.check_basis(session, principal, referral.basis_id, person.id, entry, case.id)
    service.check_shares(access.case, [SharedField(f) for f in referral.shared_fields])
    # Read everything before changing the row: one version bump per move.
    org_code = await session.scalar(
        select(Organisation.code).where(Organisation.id == referral.provider_organisation_id)
    )
    # Phones come from the facts *this* case recorded, never from another case's.
    facts = await load_facts(session, case.id, person.id)
    cipher = await case_cipher(session, keyring, case.id, create=True)
    values = views.shared_values(keyring, person, case, referral, facts, cipher)
    views.seal_shared(cipher, referral, values)
    target_days = entry.response_time_target_days
    if target_days is None:
        target_days = settings.referral_default_response_days
    referral.requested_at = now
    referral.response_due_at = now + timedelta(days=target_days)
    referral.expires_at = now + timedelta(days=max(settings.referral_expiry_days, target_days))
    audit_person(session, principal, "referral.disclosed", referral, f"disclosed to {org_code}")


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Referral.status.in_([s.value for s in UNANSWERED]),
        Referral.expires_at.is_not(None),
        Referral.expires_at <= now,
    )


async def count_due(session: AsyncSession, now: datetime | None = None) -> int:
    """How many referrals the next sweep would expire (for progress output)."""
    stmt = select(func.count()).select_from(Referral).where(*_due(now or clock.now()))
    return int(await session.scalar(stmt) or 0)


async def expire_due(
    session: AsyncSession, keyring: KeyRing, now: datetime | None = None, batch: int = 500
) -> int:
    """Fail unanswered referrals past their expiry with reason ``expired``; returns how many.

    The reason text is sealed under each case's key (a shredded case's gets none).

    The referrer learns of it from /me/tasks (app/referrals/followup.py).
    """
    now = now or clock.now()
    due = (
        await session.scalars(
            select(Referral)
            .where(*_due(now))
            .order_by(Referral.expires_at, Referral.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    ciphers = await case_ciphers(session, keyring, {r.case_id for r in due})
    for referral in due:
        before = Status(referral.status)
        cipher = ciphers[referral.case_id]
        if not cipher.shredded and not cipher.can_seal:
            cipher = await case_cipher(session, keyring, referral.case_id, create=True)
        text = None if cipher.shredded else EXPIRED_TEXT
        apply(cipher, referral, Status.FAILED, now, ReasonCode.EXPIRED, text)
        await _record(session, cipher, referral, before, Side.SYSTEM, None, now)
    return len(due)


async def acknowledge_expiry(session: AsyncSession, access: ReferralAccess, expected: int) -> None:
    service.require_referrer(access)
    referral = access.referral
    check_version(expected, referral.version)
    if referral.reason_code != ReasonCode.EXPIRED.value or referral.status != Status.FAILED:
        raise Conflict("Only an expired referral is acknowledged.")
    if referral.expiry_acknowledged_at is None:
        referral.expiry_acknowledged_at = clock.now()
        await session.flush()
    audit_person(session, access.principal, "referral.expiry.acknowledged", referral, "case work")

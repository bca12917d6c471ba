"""Consents and legal bases: on what basis a person's information may be shared.

Information crosses from one agency to another only under a recorded basis
(docs/DOMAIN.md section 4). Withdrawing consent stops further sharing on that
basis from that moment; what was shared before stays explained by the
record, which is why withdrawal is a date and never a deletion.

:func:`sharing_problem` is the one question every disclosure asks ("is
there a live basis for sharing this person's information for this
purpose *in this case*?"); the Marak lifecycle gates call it. A basis is
bound to the case it was given for (and a service_referral basis to its
service): consent given to one team's Marak case authorises nothing in
another team's case, and a reader sees only the bases of cases they read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Select, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal
from app.casekeys.freetext import SHREDDED_TEXT, open_texts, seal_text
from app.casekeys.service import case_cipher, case_ciphers
from app.persons.consent_schemas import (
    ConsentCreate,
    ConsentRead,
    ConsentWithdrawal,
    GivenBy,
    LegalBasis,
    SharingScope,
)
from app.persons.models import Consent, Person
from app.persons.service import PersonAccess
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.db import utcnow
from app.platform.problems import Conflict, Forbidden, NotFound, denial, field_error

ADULT_AGE = 18
CLOCK_SKEW = timedelta(minutes=5)


class SharingBlocked(Conflict):
    type = "sharing-blocked"
    title = "No basis for sharing"


def is_active(consent: Consent, at: datetime) -> bool:
    return consent.obtained_at <= at and (consent.withdrawn_at is None or consent.withdrawn_at > at)


#: Free text of a basis, sealed under its case's key (app/casekeys/freetext.py).
TEXTS = ("reference", "withdrawal_note")


def to_read(consent: Consent, cipher: CaseCipher, now: datetime | None = None) -> ConsentRead:
    """The basis as read; its texts opened with its case's ``cipher`` (a shredded
    case's read SHREDDED_TEXT: a person's bases span cases)."""
    return ConsentRead.model_validate(
        {
            **{a.key: getattr(consent, a.key) for a in inspect(Consent).column_attrs},
            **open_texts(cipher, consent, TEXTS, shredded_as=SHREDDED_TEXT),
            "active": is_active(consent, now or utcnow()),
        }
    )


async def read_one(session: AsyncSession, keyring: KeyRing, consent: Consent) -> ConsentRead:
    return to_read(consent, await case_cipher(session, keyring, consent.case_id))


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


async def list_consents(
    session: AsyncSession, keyring: KeyRing, access: PersonAccess
) -> list[ConsentRead]:
    """The bases given for the cases the caller reads the person through (no other's)."""
    rows = (
        await session.scalars(
            select(Consent)
            .where(
                Consent.person_id == access.person.id,
                Consent.case_id.in_(sorted(access.reach.case_ids)),
            )
            .order_by(Consent.obtained_at, Consent.id)
        )
    ).all()
    audit.record(
        session,
        access.principal,
        "person.consents.read",
        "person",
        access.person.id,
        purpose=access.purpose,
    )
    now = utcnow()
    ciphers = await case_ciphers(session, keyring, {c.case_id for c in rows})
    return [to_read(c, ciphers[c.case_id], now) for c in rows]


async def record_consent(
    session: AsyncSession,
    keyring: KeyRing,
    access: PersonAccess,
    data: ConsentCreate,
    visible_ids: Select[uuid.UUID],
    service_name: str | None = None,
) -> Consent:
    """Record a basis for ``access.case_id`` (the router narrowed ``access`` to the
    body's case); ``service_name`` is the directory entry's when one is named."""
    person, principal = access.person, access.principal
    now = utcnow()
    obtained_at = data.obtained_at or now
    if obtained_at > now + CLOCK_SKEW:
        raise field_error("obtained_at", "obtained_at is in the future.")
    if data.guardian_person_id is not None:
        guardian = await session.scalar(
            select(Person.id).where(
                Person.id == data.guardian_person_id, Person.id.in_(visible_ids)
            )
        )
        if guardian is None or guardian == person.id:
            raise field_error(
                "guardian_person_id", "No such guardian among the people you can see."
            )
    minor = person.birth_date is not None and (
        _age_on(person.birth_date, obtained_at.date()) < ADULT_AGE
    )
    if data.basis == LegalBasis.CONSENT and data.given_by == GivenBy.PERSON and minor:
        # A minor who understands the matter consents for themselves (docs/DOMAIN.md section 1).
        if data.minor_has_capacity is None:
            raise field_error(
                "minor_has_capacity", "Record whether the minor understands the matter."
            )
        if not data.minor_has_capacity:
            raise field_error(
                "minor_has_capacity",
                "A minor who does not understand the matter cannot consent; a guardian must.",
            )
    consent = Consent(
        id=uuid.uuid4(),
        person_id=person.id,
        case_id=access.case_id,
        service_id=data.service_id,
        basis=data.basis.value,
        scope=data.scope.value,
        service_name=service_name or data.service_name,
        given_by=data.given_by.value if data.given_by else None,
        guardian_person_id=data.guardian_person_id,
        minor_has_capacity=data.minor_has_capacity,
        method=data.method.value if data.method else None,
        obtained_at=obtained_at,
        obtained_by=principal.user_id,
        obtained_by_organisation_id=principal.organisation_id,
    )
    if data.reference is not None:
        cipher = await case_cipher(session, keyring, access.case_id, create=True)
        seal_text(cipher, consent, "reference", data.reference)
    session.add(consent)
    await session.flush()
    audit.record(
        session,
        principal,
        f"person.basis.recorded.{data.basis.value}",
        "person",
        person.id,
        purpose=f"{data.scope.value}; case {access.case_id}",
    )
    return consent


async def withdraw_consent(
    session: AsyncSession,
    keyring: KeyRing,
    access: PersonAccess,
    consent_id: uuid.UUID,
    data: ConsentWithdrawal,
) -> Consent:
    consent = await session.scalar(
        select(Consent).where(
            Consent.id == consent_id,
            Consent.person_id == access.person.id,
            Consent.case_id.in_(sorted(access.reach.case_ids)),
        )
    )
    if consent is None:
        raise NotFound("No such consent.")
    through = access.through(consent.case_id)
    if through is None or not through.reach.writable:
        raise Forbidden(
            "Emergency access is read-only.",
            denied=denial(
                Action.CONSENT_WRITE,
                access.principal,
                "person",
                access.person.id,
                "emergency access is read-only",
            ),
        )
    if consent.withdrawn_at is not None:
        raise Conflict("This basis was already withdrawn.")
    now = utcnow()
    at = data.withdrawn_at or now
    if at > now + CLOCK_SKEW or at < consent.obtained_at:
        raise field_error("withdrawn_at", "withdrawn_at must be between obtaining it and now.")
    # The key before any change: making it flushes, and one withdrawal is one version.
    cipher = await case_cipher(session, keyring, consent.case_id, create=True)
    consent.withdrawn_at = at
    consent.withdrawn_recorded_by = access.principal.user_id
    seal_text(cipher, consent, "withdrawal_note", data.note)
    await session.flush()
    audit.record(
        session,
        access.principal,
        "person.basis.withdrawn",
        "person",
        access.person.id,
        purpose=consent.scope,
    )
    return consent


async def bases_for(
    session: AsyncSession,
    person_id: uuid.UUID,
    scope: SharingScope,
    case_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None = None,
    service_name: str | None = None,
) -> Sequence[Consent]:
    """The bases given in ``case_id`` for ``scope`` (and, if named, for the service)."""
    stmt = select(Consent).where(
        Consent.person_id == person_id,
        Consent.case_id == case_id,
        Consent.scope == scope.value,
    )
    if service_id is not None:
        stmt = stmt.where(or_(Consent.service_id.is_(None), Consent.service_id == service_id))
    if service_name is not None:
        stmt = stmt.where(or_(Consent.service_name.is_(None), Consent.service_name == service_name))
    return (await session.scalars(stmt)).all()


async def sharing_problem(
    session: AsyncSession,
    person_id: uuid.UUID,
    scope: SharingScope,
    case_id: uuid.UUID,
    *,
    accepted: Iterable[LegalBasis] = tuple(LegalBasis),
    service_id: uuid.UUID | None = None,
    service_name: str | None = None,
    at: datetime | None = None,
) -> str | None:
    """None if a live basis of an accepted kind, given in this case, covers this
    sharing, else why not."""
    at = at or utcnow()
    kinds = {b.value for b in accepted}
    found = await bases_for(
        session, person_id, scope, case_id, service_id=service_id, service_name=service_name
    )
    rows = list(found)
    rows = [c for c in rows if c.basis in kinds]
    if any(is_active(c, at) for c in rows):
        return None
    if any(c.withdrawn_at is not None and c.withdrawn_at <= at for c in rows):
        return f"The basis for {scope.value} was withdrawn; sharing is blocked."
    return f"No basis for {scope.value} is recorded."


async def require_sharing_basis(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    scope: SharingScope,
    case_id: uuid.UUID,
    *,
    action: str,
    accepted: Iterable[LegalBasis] = tuple(LegalBasis),
    service_id: uuid.UUID | None = None,
    service_name: str | None = None,
) -> None:
    """Raise (409, and the refusal is audited) unless sharing in the case has a live basis."""
    problem = await sharing_problem(
        session,
        person_id,
        scope,
        case_id,
        accepted=accepted,
        service_id=service_id,
        service_name=service_name,
    )
    if problem is not None:
        raise SharingBlocked(
            problem,
            denied=denial(
                action, principal, "person", person_id, f"sharing blocked: {scope.value}"
            ),
        )

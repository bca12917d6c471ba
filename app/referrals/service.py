"""Referrals: loading one from the caller's side, the checks every disclosure makes, and drafts.

A referral is read from one of two sides (:class:`ReferralAccess`):

- the **referrer** side: a reader of the referral's case (the readable-cases
  query of app/cases/access.py decides, emergency grants included); they see
  everything and its history;
- the **provider** side: a service provider (or the system) of the receiving
  organisation, once the referral was sent; they see only what was shared.

Anyone else gets the same 404 as for a referral that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.predicates import is_case_worker, is_provider, may_see_protected
from app.auth.principal import Principal
from app.casekeys.freetext import open_text, seal_text
from app.casekeys.service import case_cipher
from app.cases.access import (
    CaseAccess,
    load_case_access,
    not_found,
    organisation_excluded_case_ids,
    readable_cases,
)
from app.cases.exclusions import MustNotReceive, Party, may_receive
from app.cases.lifecycle import CaseStatus
from app.cases.models import Case, CaseParticipant
from app.persons.consent_schemas import SharingScope
from app.persons.consents import is_active
from app.persons.models import Consent, Person
from app.plans.models import Measure
from app.plans.schemas import OPEN_STATUSES
from app.platform.clock import clock
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.etag import check_version
from app.platform.problems import Conflict, Forbidden, denial, field_error
from app.referrals.models import Referral, ReferralEvent, ServiceEntry
from app.referrals.schemas import (
    ReferralCreate,
    ReferralUpdate,
    SharedField,
)
from app.referrals.states import Side, Status

PROTECTED_SHARES = frozenset({SharedField.IDENTITY_CODE, SharedField.PHONE})


@dataclass(frozen=True)
class ReferralAccess:
    referral: Referral
    principal: Principal
    side: Side
    case: CaseAccess | None  # the referrer side's case access
    action: Action  # the route's declared action (services take it from here)

    @property
    def writable(self) -> bool:
        """Provider side, or an active member of the case (an emergency grant reads only)."""
        return self.side == Side.PROVIDER or (self.case is not None and self.case.role is not None)

    @property
    def purpose(self) -> str:
        if self.case is not None:
            return self.case.purpose
        return "service referral"


async def load_referral(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID, action: Action | str
) -> ReferralAccess:
    """The referral from the caller's side, or 404 (audited) when they have none.

    Loaded *through* each side's readable rule (never fetched and then checked):
    the referring side's :func:`referred_from`, else the provider's :func:`received_by`.
    """
    action = Action(action)
    one = select(Referral).where(Referral.id == referral_id)
    if is_case_worker(principal):
        referral = await session.scalar(one.where(referred_from(principal)))
        if referral is not None:
            case = await load_case_access(session, principal, referral.case_id, action)
            return ReferralAccess(referral, principal, Side.REFERRER, case, action)
    if is_provider(principal):
        referral = await session.scalar(one.where(received_by(principal)))
        if referral is not None:
            return ReferralAccess(referral, principal, Side.PROVIDER, None, action)
    raise not_found(action, principal, "referral", referral_id)


def referred_from(principal: Principal, now: datetime | None = None) -> ColumnElement[bool]:
    """THE referring side's rule (single reads, the outbox): referrals made in a
    case the caller can read (app/cases/access.py: membership or an emergency grant,
    never for an organisation the case excludes)."""
    readable = readable_cases(principal, now).with_only_columns(Case.id)
    return Referral.case_id.in_(readable.scalar_subquery())


def received_by(principal: Principal) -> ColumnElement[bool]:
    """THE provider side's rule (single reads, the inbox, /me/tasks): referrals sent
    to the caller's organisation (a draft cancelled unsent never was), from a case
    whose must-not-receive list does not name that organisation."""
    return received_by_organisation(principal.organisation_id)


def received_by_organisation(organisation_id: uuid.UUID) -> ColumnElement[bool]:
    """:func:`received_by` for an organisation (its webhooks, app/events/service.py)."""
    return and_(
        Referral.provider_organisation_id == organisation_id,
        Referral.requested_at.is_not(None),
        Referral.case_id.not_in(organisation_excluded_case_ids(organisation_id)),
    )


def require_referrer(access: ReferralAccess) -> CaseAccess:
    """The ``referrer`` relation: the referring side's active member (emergency
    access is read-only), for the action the access was loaded for."""
    if access.side != Side.REFERRER or access.case is None or access.case.role is None:
        raise Forbidden(
            "Only an active member of the referring case may do this.",
            denied=denial(
                access.action,
                access.principal,
                "referral",
                access.referral.id,
                "not the referring side",
            ),
        )
    return access.case


# --- checks shared by create, update and send -------------------------------------


async def check_subject(session: AsyncSession, case: Case, person_id: uuid.UUID) -> Person:
    person = await session.scalar(
        select(Person)
        .join(CaseParticipant, CaseParticipant.person_id == Person.id)
        .where(
            CaseParticipant.case_id == case.id,
            CaseParticipant.person_id == person_id,
            CaseParticipant.removed_at.is_(None),
        )
    )
    if person is None:
        raise field_error("subject_person_id", "The subject must be a participant of the case.")
    return person


async def check_service(session: AsyncSession, service_id: uuid.UUID) -> ServiceEntry:
    service = await session.get(ServiceEntry, service_id)
    if service is None or not service.active:
        raise field_error("service_id", "No such active service in the directory.", "not_found")
    if not service.accepts_electronic_referrals:
        raise field_error(
            "service_id",
            "This service takes no electronic referrals; contact it through its public channel.",
        )
    return service


async def check_basis(
    session: AsyncSession,
    principal: Principal,
    basis_id: uuid.UUID,
    subject_id: uuid.UUID,
    service: ServiceEntry,
    case_id: uuid.UUID,
) -> Consent:
    """A live consent or statutory basis of the subject for referral to this service,
    given in *this* case (a basis given to another case's team authorises nothing here)."""
    basis = await session.scalar(
        select(Consent).where(
            Consent.id == basis_id, Consent.person_id == subject_id, Consent.case_id == case_id
        )
    )
    problem = None
    if basis is None:
        problem = "No such basis recorded for the subject in this case."
    elif basis.scope != SharingScope.SERVICE_REFERRAL.value:
        problem = "The basis does not cover service referrals."
    elif basis.service_id is not None and basis.service_id != service.id:
        problem = "The basis covers referral to another service, not to this one."
    elif basis.service_name is not None and basis.service_name != service.name:
        problem = f"The basis covers referral to {basis.service_name}, not to this service."
    elif not is_active(basis, clock.now()):
        problem = "The basis was withdrawn or is not yet in force; sharing is blocked."
    if problem is not None or basis is None:
        raise field_error(
            "basis_id",
            problem or "No such basis recorded for the subject.",
            denied=denial(
                "referral.basis",
                principal,
                "person",
                subject_id,
                "no valid basis for service referral",
            ),
        )
    return basis


async def check_recipients(
    session: AsyncSession, principal: Principal, case: Case, subject_id: uuid.UUID, org: uuid.UUID
) -> None:
    """Neither the subject nor the receiving organisation may be on the must-not-receive list."""
    for party, what in (
        (Party(person_id=subject_id), "The subject"),
        (Party(organisation_id=org), "The receiving organisation"),
    ):
        if not await may_receive(session, case.id, party):
            raise MustNotReceive(
                f"{what} is on the case's must-not-receive list.",
                denied=denial("referral.disclose", principal, "case", case.id, "must not receive"),
            )


def check_shares(access: CaseAccess, fields: list[SharedField]) -> None:
    """Protected values go only from someone who may see them (an active member)."""
    owners = (access.case.owner_organisation_id,)
    if set(fields) & PROTECTED_SHARES and not may_see_protected(access.principal, owners):
        raise field_error("shared_fields", "You cannot share protected fields you may not see.")


async def check_measure(session: AsyncSession, case: Case, measure_id: uuid.UUID) -> None:
    measure = await session.scalar(
        select(Measure).where(Measure.id == measure_id, Measure.case_id == case.id)
    )
    if (
        measure is None
        or measure.removed_in is not None
        or measure.status not in {s.value for s in OPEN_STATUSES}
    ):
        raise field_error("measure_id", "No such open measure in the case's plan.", "not_found")


def add_event(
    session: AsyncSession,
    cipher: CaseCipher,
    referral: Referral,
    before: str | None,
    side: Side,
    actor: Principal | None,
    at: datetime,
) -> None:
    """The move in the history, with a copy of the referral's reason text (sealed
    under the case key like the referral's own)."""
    event = ReferralEvent(
        id=uuid.uuid4(),
        referral_id=referral.id,
        from_status=before,
        to_status=referral.status,
        side=side.value,
        actor_id=actor.user_id if actor else None,
        actor_name=actor.name if actor else None,
        actor_organisation_id=actor.organisation_id if actor else None,
        reason_code=referral.reason_code,
        outcome=referral.outcome,
        occurred_at=at,
    )
    text = None if cipher.shredded else open_text(cipher, referral, "reason_text")
    seal_text(cipher, event, "reason_text", text)
    session.add(event)


def audit_person(
    session: AsyncSession, principal: Principal | None, action: str, referral: Referral, why: str
) -> None:
    """Referral rows are about their subject: the person's access report lists them."""
    purpose = f"referral {referral.id}; basis {referral.basis_kind}:{referral.basis_id}; {why}"
    audit.record(
        session, principal, action, "person", referral.subject_person_id, purpose=purpose[:200]
    )


# --- create and change a draft -----------------------------------------------------


async def create_referral(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, data: ReferralCreate
) -> Referral:
    case, principal = access.case, access.principal
    if case.status == CaseStatus.CLOSED.value:
        raise Conflict("A closed case takes no new referrals.")
    await check_subject(session, case, data.subject_person_id)
    service = await check_service(session, data.service_id)
    await check_recipients(
        session, principal, case, data.subject_person_id, service.provider_organisation_id
    )
    basis = await check_basis(
        session, principal, data.basis_id, data.subject_person_id, service, case.id
    )
    check_shares(access, data.shared_fields)
    if data.measure_id is not None:
        await check_measure(session, case, data.measure_id)
    now = clock.now()
    referral = Referral(
        id=uuid.uuid4(),
        case_id=case.id,
        subject_person_id=data.subject_person_id,
        service_id=service.id,
        provider_organisation_id=service.provider_organisation_id,
        urgency=data.urgency.value,
        shared_fields=[f.value for f in data.shared_fields],
        basis_id=basis.id,
        basis_kind=basis.basis,
        measure_id=data.measure_id,
        status=Status.DRAFT.value,
        created_by=principal.user_id,
        created_by_organisation_id=principal.organisation_id,
    )
    cipher = await case_cipher(session, keyring, case.id, create=True)
    seal_text(cipher, referral, "reason", data.reason)
    seal_text(cipher, referral, "note_to_provider", data.note_to_provider)
    session.add(referral)
    await session.flush()
    add_event(session, cipher, referral, None, Side.REFERRER, principal, now)
    audit_person(session, principal, "referral.created", referral, access.purpose)
    return referral


async def update_draft(
    session: AsyncSession,
    keyring: KeyRing,
    access: ReferralAccess,
    data: ReferralUpdate,
    expected: int,
) -> Referral:
    case_access = require_referrer(access)
    referral = access.referral
    check_version(expected, referral.version)
    if referral.status != Status.DRAFT:
        raise Conflict("Only a draft changes; what was sent is what the service got.")
    changes = data.model_dump(exclude_unset=True)
    # Before any change: making the key flushes, and one PATCH is one version.
    cipher = await case_cipher(session, keyring, referral.case_id, create=True)
    service = await session.get(ServiceEntry, referral.service_id)
    assert service is not None  # RESTRICT keeps it
    for field in ("reason", "urgency", "shared_fields", "basis_id"):
        if changes.get(field, ...) is None:
            raise field_error(field, f"{field} cannot be cleared.")
    if "shared_fields" in changes:
        check_shares(case_access, data.shared_fields or [])
        referral.shared_fields = [f.value for f in data.shared_fields or []]
    if "basis_id" in changes and data.basis_id is not None:
        basis = await check_basis(
            session,
            access.principal,
            data.basis_id,
            referral.subject_person_id,
            service,
            referral.case_id,
        )
        referral.basis_id, referral.basis_kind = basis.id, basis.basis
    if "measure_id" in changes:
        if data.measure_id is not None:
            await check_measure(session, case_access.case, data.measure_id)
        referral.measure_id = data.measure_id
    if "reason" in changes:
        seal_text(cipher, referral, "reason", changes["reason"])
    if "urgency" in changes:
        referral.urgency = changes["urgency"]
    if "note_to_provider" in changes:
        seal_text(cipher, referral, "note_to_provider", changes["note_to_provider"])
    await session.flush()
    audit_person(session, access.principal, "referral.updated", referral, access.purpose)
    return referral

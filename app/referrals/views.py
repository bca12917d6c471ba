"""What each side sees of a referral, and the shared values sealed into it when sent.

The referrer's side sees everything (:class:`ReferralRead`, with history on a
single read); the provider's side sees :class:`ProviderReferralRead`: the
shared minimum, never the case. The FHIR rendering (app/referrals/fhir.py)
always starts from the provider's view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.casekeys.freetext import SHREDDED_TEXT, open_text, open_texts
from app.casekeys.service import case_cipher
from app.cases.lifecycle import CaseStatus
from app.cases.models import Case
from app.directory.models import Organisation, User
from app.persons.models import Consent, Person, PersonCaseFacts
from app.persons.protected import open_protected
from app.platform.clock import clock
from app.platform.crypto import CaseCipher, FieldContext, KeyRing
from app.referrals.models import Referral, ReferralEvent, ServiceEntry
from app.referrals.schemas import (
    ProviderReferralRead,
    ReferralDetail,
    ReferralEventRead,
    ReferralRead,
    SharedField,
    SharedInfo,
)
from app.referrals.service import ReferralAccess
from app.referrals.states import UNANSWERED, Side, Status, allowed

# --- what was shared ----------------------------------------------------------------


def shared_values(
    keyring: KeyRing,
    person: Person,
    case: Case,
    referral: Referral,
    facts: PersonCaseFacts | None,
    cipher: CaseCipher,
) -> dict[str, Any]:
    """The chosen fields' values now, for sealing into the referral when it is sent
    (the phones from ``facts``: what the referring case recorded, under ``cipher``)."""
    protected = open_protected(keyring, person, facts, cipher)
    values: dict[str, Any] = {}
    for name in referral.shared_fields:
        field = SharedField(name)
        if field == SharedField.NAME:
            values["name"] = f"{person.given_name} {person.family_name}"
        elif field == SharedField.BIRTH_DATE:
            values["birth_date"] = person.birth_date.isoformat() if person.birth_date else None
        elif field == SharedField.IDENTITY_CODE:
            values["identity_code"] = protected.identity_code
        elif field == SharedField.PHONE:
            # Whether a number is safe to call travels with it: a call to an
            # unsafe number can tell the perpetrator that help was sought.
            values["phones"] = [
                {"number": p["number"], "safe_to_call": p.get("safe_to_call")}
                for p in protected.phones
                if p.get("number")
            ]
        elif field == SharedField.LANGUAGE:
            values["language"] = person.preferred_language
        elif field == SharedField.REASON:
            values["reason"] = open_text(cipher, referral, "reason")
        elif field == SharedField.RISK_LEVEL:
            values["risk_level"] = case.risk_level
    return values


def seal_shared(case: CaseCipher, referral: Referral, values: dict[str, Any]) -> None:
    """Sealed under the referring case's data key: shredding the case takes it too."""
    referral.shared_enc = case.seal_json(values, FieldContext.of(referral, "shared_enc"))


def open_shared(case: CaseCipher, referral: Referral) -> SharedInfo | None:
    """What was shared; None also once the case's key is destroyed (shredded)."""
    if referral.shared_enc is None or case.shredded:
        return None
    values = case.open_json(referral.shared_enc, FieldContext.of(referral, "shared_enc"))
    return SharedInfo.model_validate(values)


# --- views ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a view needs beyond the referral row (from one joined query)."""

    service_name: str
    service_type: str
    requester_name: str
    requester_organisation: str
    requester_code: str
    provider_organisation: str
    provider_code: str
    case_status: str
    basis_withdrawn_at: datetime | None


ContextRow = Select[Referral, str, str, str, str, str, str, str, str, datetime | None]
_Requester = aliased(Organisation)
_Provider = aliased(Organisation)


def context_query() -> ContextRow:
    stmt: ContextRow = (
        select(
            Referral,
            ServiceEntry.name,
            ServiceEntry.service_type,
            User.name,
            _Requester.name,
            _Requester.code,
            _Provider.name,
            _Provider.code,
            Case.status,
            Consent.withdrawn_at,
        )
        .join(ServiceEntry, ServiceEntry.id == Referral.service_id)
        .join(User, User.id == Referral.created_by)
        .join(_Requester, _Requester.id == Referral.created_by_organisation_id)
        .join(_Provider, _Provider.id == Referral.provider_organisation_id)
        .join(Case, Case.id == Referral.case_id)
        .join(Consent, Consent.id == Referral.basis_id)
    )
    return stmt


async def context_of(session: AsyncSession, referral: Referral) -> Context:
    row = (await session.execute(context_query().where(Referral.id == referral.id))).one()
    return Context(*row[1:])


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """:func:`is_overdue` in SQL (the query must join the referral's case)."""
    return and_(
        Referral.status.in_([s.value for s in UNANSWERED]),
        Referral.response_due_at < now,
        Case.status != CaseStatus.CLOSED.value,
    )


def is_overdue(referral: Referral, case_status: str, now: datetime) -> bool:
    """Sent, not yet answered, past the service's response target, in a case still open."""
    return (
        referral.status in UNANSWERED
        and referral.response_due_at is not None
        and referral.response_due_at < now
        and case_status != CaseStatus.CLOSED.value
    )


def _moves(access_side: Side, writable: bool, referral: Referral) -> list[Status]:
    if not writable:
        return []
    held = Status(referral.held_from) if referral.held_from else None
    return allowed(Status(referral.status), held, access_side)


#: The referral's free text the provider reads, sealed under its case's key (the
#: ``reason`` only the referrer reads). A shredded case's referral still answers
#: (the inbox and the FHIR views too), its texts reading SHREDDED_TEXT.
PROVIDER_TEXTS = ("note_to_provider", "reason_text", "outcome_text")


def provider_view(
    case: CaseCipher, referral: Referral, ctx: Context, side: Side, writable: bool
) -> dict[str, Any]:
    """The provider's view; the referrer's adds to it (``render``)."""
    now = clock.now()
    texts = open_texts(case, referral, PROVIDER_TEXTS, shredded_as=SHREDDED_TEXT)
    withdrawn = ctx.basis_withdrawn_at is not None and ctx.basis_withdrawn_at <= now
    # Withdrawal stops further sharing: the service no longer reads what was
    # shared (its own records are its own); the referrer still sees what went.
    hidden = withdrawn and side == Side.PROVIDER
    return {
        "id": referral.id,
        "status": referral.status,
        "urgency": referral.urgency,
        "service_id": referral.service_id,
        "service_name": ctx.service_name,
        "requester_name": ctx.requester_name,
        "requester_organisation": ctx.requester_organisation,
        "sent_at": referral.requested_at,
        "response_due_at": referral.response_due_at,
        "overdue": is_overdue(referral, ctx.case_status, now),
        "accepted_at": referral.accepted_at,
        "ended_at": referral.ended_at,
        "shared_fields": referral.shared_fields,
        "sharing_withdrawn": withdrawn,
        "shared": None if hidden else open_shared(case, referral),
        "note_to_provider": None if hidden else texts["note_to_provider"],
        "reason_code": referral.reason_code,
        "reason_text": texts["reason_text"],
        "outcome": referral.outcome,
        "outcome_text": texts["outcome_text"],
        "allowed_transitions": _moves(side, writable, referral),
        "version": referral.version,
    }


def render(
    case: CaseCipher, referral: Referral, ctx: Context, side: Side, writable: bool
) -> ReferralRead | ProviderReferralRead:
    base = provider_view(case, referral, ctx, side, writable)
    if side == Side.PROVIDER:
        return ProviderReferralRead.model_validate(base)
    full = {
        **base,
        "reason": open_text(case, referral, "reason", shredded_as=SHREDDED_TEXT),
        **{
            key: getattr(referral, key)
            for key in (
                "case_id",
                "subject_person_id",
                "provider_organisation_id",
                "basis_id",
                "basis_kind",
                "measure_id",
                "held_from",
                "expires_at",
                "expiry_acknowledged_at",
                "created_by",
                "created_at",
                "updated_at",
            )
        },
    }
    return ReferralRead.model_validate(full)


async def detail(
    session: AsyncSession, keyring: KeyRing, access: ReferralAccess
) -> ReferralDetail | ProviderReferralRead:
    referral = access.referral
    ctx = await context_of(session, referral)
    case = await case_cipher(session, keyring, referral.case_id)
    view = render(case, referral, ctx, access.side, access.writable)
    if access.side == Side.PROVIDER:
        return view
    events = (
        await session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.occurred_at, ReferralEvent.id)
        )
    ).all()
    history = [
        ReferralEventRead.model_validate(
            {
                **{a.key: getattr(e, a.key) for a in inspect(ReferralEvent).column_attrs},
                "reason_text": open_text(case, e, "reason_text", shredded_as=SHREDDED_TEXT),
            }
        )
        for e in events
    ]
    return ReferralDetail.model_validate({**view.model_dump(), "history": history})

"""Emergency access ("break the glass", docs/DOMAIN.md section 4).

A police officer, social worker or health worker who is not a member may take
a 60-minute, read-only grant to one case by writing down why. The grant is
audited as ``case.emergency_access.granted``; every access made under it is
tagged with its id (app/cases/access.py sets the request context); the case's
leads see it on the case; an auditor reviews it.

The one place a case is looked up outside the readable-cases query is
:func:`eligible_cases`: breaking the glass needs the case to exist. HAH cases
are police-only here too, so to anyone else a HAH case still does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import EMERGENCY_ROLES, Action
from app.auth.principal import Principal, Role
from app.casekeys.freetext import SHREDDED_TEXT, open_text, seal_text
from app.casekeys.service import case_cipher, case_ciphers
from app.cases.access import CaseAccess, excluded_case_ids, not_found
from app.cases.lifecycle import Scheme
from app.cases.models import Case, CaseExclusion, CaseMember, EmergencyGrant
from app.cases.schemas import EmergencyAccessCreate, EmergencyGrantRead, EmergencyReview
from app.events.outbox import EventType, emit
from app.platform import context as requestctx
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.pagination import fetch_page
from app.platform.problems import Conflict, NotFound, denial

GRANT_MINUTES = 60


def eligible_cases(principal: Principal) -> Select[Case]:
    """Cases this caller could break the glass into (HAH only for police)."""
    stmt = select(Case)
    if not principal.has(Role.POLICE):
        stmt = stmt.where(Case.scheme != Scheme.HAH.value)
    return stmt


#: The auditors' queue spans cases: a shredded case's grant reads SHREDDED_TEXT.
_SEALED = ("reason", "review_note")


def _read(cipher: CaseCipher, grant: EmergencyGrant) -> EmergencyGrantRead:
    values = {
        key: getattr(grant, key)
        for key in EmergencyGrant.__mapper__.columns.keys()
        if not key.endswith(("_enc", "_plain"))
    }
    for name in _SEALED:
        values[name] = open_text(cipher, grant, name, shredded_as=SHREDDED_TEXT)
    return EmergencyGrantRead.model_validate({**values, "active": grant.expires_at > utcnow()})


async def to_read(
    session: AsyncSession, keyring: KeyRing, grant: EmergencyGrant
) -> EmergencyGrantRead:
    return _read(await case_cipher(session, keyring, grant.case_id), grant)


async def to_reads(
    session: AsyncSession, keyring: KeyRing, grants: Sequence[EmergencyGrant]
) -> list[EmergencyGrantRead]:
    ciphers = await case_ciphers(session, keyring, {g.case_id for g in grants})
    return [_read(ciphers[g.case_id], g) for g in grants]


async def load_outsider_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, action: str
) -> Case:
    """The ``case_outsider`` relation (app/auth/policy.py): the case exists for this
    caller (``eligible_cases``), their organisation is not on its must-not-receive
    list, and they are neither a member nor holding an active grant."""
    case = await session.scalar(eligible_cases(principal).where(Case.id == case_id))
    if case is None:
        raise not_found(action, principal, "case", case_id)
    if await session.scalar(excluded_case_ids(principal).where(CaseExclusion.case_id == case.id)):
        # The caller's organisation must not receive this case: no glass to break.
        # Refused exactly like a case that does not exist, so the refusal tells
        # the excluded party nothing; the audit row says why.
        raise NotFound(
            "No such case.",
            denied=denial(action, principal, "case", case.id, "must-not-receive"),
        )
    is_member = await session.scalar(
        select(CaseMember.id).where(
            CaseMember.case_id == case.id,
            CaseMember.user_id == principal.user_id,
            CaseMember.removed_at.is_(None),
        )
    )
    if is_member is not None:
        raise Conflict("You are a member of this case; emergency access is not needed.")
    active = await session.scalar(
        select(EmergencyGrant).where(
            EmergencyGrant.case_id == case.id,
            EmergencyGrant.user_id == principal.user_id,
            EmergencyGrant.expires_at > utcnow(),
        )
    )
    if active is not None:
        raise Conflict(
            "You already hold an active emergency grant for this case.",
            extra={"grant_id": str(active.id), "expires_at": active.expires_at.isoformat()},
        )
    return case


async def grant_access(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    case: Case,
    data: EmergencyAccessCreate,
    minutes: int = GRANT_MINUTES,
) -> EmergencyGrant:
    """A grant to ``case``, which the route's ``case_outsider`` loader returned."""
    now = utcnow()
    role = sorted(principal.roles & EMERGENCY_ROLES)[0]
    grant = EmergencyGrant(
        id=uuid.uuid4(),
        case_id=case.id,
        user_id=principal.user_id,
        organisation_id=principal.organisation_id,
        role=role.value,
        expires_at=now + timedelta(minutes=minutes),
    )
    seal_text(
        await case_cipher(session, keyring, case.id, create=True), grant, "reason", data.reason
    )
    session.add(grant)
    await session.flush()
    requestctx.emergency_grant_id.set(grant.id)
    audit.record(
        session,
        principal,
        "case.emergency_access.granted",
        "case",
        case.id,
        purpose="emergency access",
    )
    emit(
        session, EventType.EMERGENCY_ACCESS_GRANTED, principal, "emergency_grant", grant.id, case.id
    )
    return grant


async def own_grant(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, grant_id: uuid.UUID
) -> EmergencyGrant:
    """The requester's own grant (expired or not), for an idempotent replay; gone once
    the requester's organisation is on the case's must-not-receive list."""
    grant = await session.scalar(
        select(EmergencyGrant).where(
            EmergencyGrant.id == grant_id,
            EmergencyGrant.user_id == principal.user_id,
            EmergencyGrant.case_id == case_id,
            EmergencyGrant.case_id.not_in(excluded_case_ids(principal)),
        )
    )
    if grant is None:
        raise not_found(Action.EMERGENCY_ACCESS_READ, principal, "emergency_grant", grant_id)
    return grant


async def grants_of_case(session: AsyncSession, access: CaseAccess) -> list[EmergencyGrant]:
    rows = (
        await session.scalars(
            select(EmergencyGrant)
            .where(EmergencyGrant.case_id == access.case.id)
            .order_by(EmergencyGrant.created_at.desc(), EmergencyGrant.id.desc())
        )
    ).all()
    access.audit(session, "case.emergency_access.listed")
    return list(rows)


# --- the auditor's review queue ---------------------------------------------------------


async def list_grants(
    session: AsyncSession,
    principal: Principal,
    *,
    reviewed: bool | None,
    case_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[EmergencyGrant], str | None]:
    stmt: Select[Any] = select(EmergencyGrant)
    if reviewed is True:
        stmt = stmt.where(EmergencyGrant.reviewed_at.is_not(None))
    elif reviewed is False:
        stmt = stmt.where(EmergencyGrant.reviewed_at.is_(None))
    if case_id is not None:
        stmt = stmt.where(EmergencyGrant.case_id == case_id)
    page = await fetch_page(
        session, stmt, EmergencyGrant.created_at, EmergencyGrant.id, cursor, limit
    )
    audit.record(session, principal, "emergency_access.listed", "emergency_grant", None)
    return page


async def get_grant(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID
) -> EmergencyGrant:
    grant = await session.get(EmergencyGrant, grant_id)
    if grant is None:
        raise not_found(Action.EMERGENCY_ACCESS_READ, principal, "emergency_grant", grant_id)
    return grant


async def read_grant(
    session: AsyncSession, keyring: KeyRing, principal: Principal, grant: EmergencyGrant
) -> EmergencyGrantRead:
    audit.record(session, principal, Action.EMERGENCY_ACCESS_READ, "emergency_grant", grant.id)
    return await to_read(session, keyring, grant)


async def review_grant(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    grant: EmergencyGrant,
    data: EmergencyReview,
    expected_version: int,
) -> EmergencyGrant:
    check_version(expected_version, grant.version)
    if grant.reviewed_at is not None:
        raise Conflict("This grant has already been reviewed.")
    grant.reviewed_at = utcnow()
    grant.reviewed_by = principal.user_id
    grant.review_finding = data.finding.value
    cipher = await case_cipher(session, keyring, grant.case_id, create=True)
    seal_text(cipher, grant, "review_note", data.note)
    await session.flush()
    audit.record(session, principal, "emergency_access.reviewed", "emergency_grant", grant.id)
    return grant

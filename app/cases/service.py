"""Cases: opening, reading, updating, moving through the lifecycle, listing, searching.

Services only flush; the request's session dependency commits. Every read and
write is audited in the same transaction.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal, Role
from app.casekeys.freetext import read_values, seal_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess, readable_cases
from app.cases.lifecycle import (
    CaseStatus,
    GateContext,
    Gates,
    Scheme,
    TransitionIntent,
    lifecycle,
)
from app.cases.models import Case, CaseMember, CaseParticipant, CaseTransition
from app.cases.schemas import (
    AccessKind,
    CaseCreate,
    CaseRead,
    CaseRole,
    CaseSearch,
    CaseTransitionCreate,
    CaseUpdate,
    RiskLevel,
    TransitionRead,
)
from app.directory.models import Team
from app.events.outbox import EventType, emit
from app.persons.models import Person
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.pagination import apply_keyset, page_of
from app.platform.problems import Conflict, Forbidden, Unprocessable, denial

REFERENCE_PREFIX = {Scheme.ANKKURI: "ANK", Scheme.MARAK: "MRK", Scheme.HAH: "HAH"}
#: Crockford base32 without look-alikes: easy to read out over the phone.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class IllegalTransition(Conflict):
    type = "illegal-transition"
    title = "Transition not allowed"


class TransitionGated(Unprocessable):
    type = "transition-gated"
    title = "Transition precondition not met"


def new_reference(scheme: Scheme, now: datetime) -> str:
    suffix = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
    return f"{REFERENCE_PREFIX[scheme]}-{now.year}-{suffix}"


#: The case's free text, sealed under its data key (0024).
_SEALED = ("summary", "closure_reason")


def _to_read(cipher: CaseCipher, access: CaseAccess) -> CaseRead:
    """The case as the API shows it: its free text opens under the case key (410 once shredded)."""
    case = access.case
    return CaseRead.model_validate(
        {
            **read_values(cipher, case, _SEALED),
            "my_role": access.role,
            "access": access.kind,
            "allowed_transitions": lifecycle(case.scheme).allowed(case.status),
        }
    )


async def to_read(session: AsyncSession, keyring: KeyRing, access: CaseAccess) -> CaseRead:
    return _to_read(await case_cipher(session, keyring, access.case.id), access)


def transition_read(cipher: CaseCipher, row: CaseTransition) -> TransitionRead:
    return TransitionRead.model_validate(read_values(cipher, row, ("reason", "no_consent_reason")))


async def create_case(
    session: AsyncSession, keyring: KeyRing, principal: Principal, team: Team, data: CaseCreate
) -> CaseAccess:
    """Open a case in ``team`` (loaded by the route's TeamLoader: one of the
    caller's teams); the caller becomes its lead."""
    scheme = Scheme(team.kind)
    if scheme == Scheme.HAH and not principal.has(Role.POLICE):
        raise Forbidden(
            "HAH cases are opened and owned by police.",
            denied=denial(Action.CASE_CREATE, principal, "team", team.id, "hah needs police"),
        )
    now = utcnow()
    case = Case(
        id=uuid.uuid4(),
        scheme=scheme.value,
        team_id=team.id,
        owner_organisation_id=principal.organisation_id,
        status=lifecycle(scheme).initial.value,
        next_review_at=data.next_review_at,
        created_by=principal.user_id,
    )
    for attempt in range(5):
        case.reference = new_reference(scheme, now)
        try:
            async with session.begin_nested():
                session.add(case)
        except IntegrityError:  # a reference collision: draw again
            if attempt == 4:
                raise
            continue
        break
    if data.summary is not None:  # the key row needs the case row first
        cipher = await case_cipher(session, keyring, case.id, create=True)
        seal_text(cipher, case, "summary", data.summary)
    session.add(
        CaseMember(
            case_id=case.id,
            user_id=principal.user_id,
            case_role=CaseRole.LEAD.value,
            added_by=principal.user_id,
        )
    )
    await session.flush()
    audit.record(session, principal, "case.created", "case", case.id, purpose="case work")
    emit(session, EventType.CASE_CREATED, principal, "case", case.id, case.id)
    return CaseAccess(
        case=case, principal=principal, role=CaseRole.LEAD, grant_id=None, action=Action.CASE_CREATE
    )


async def read_case(session: AsyncSession, keyring: KeyRing, access: CaseAccess) -> CaseRead:
    access.audit(session, Action.CASE_READ)
    return await to_read(session, keyring, access)


async def update_case(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    data: CaseUpdate,
    expected_version: int,
) -> CaseRead:
    case = access.case
    check_version(expected_version, case.version)
    cipher = await case_cipher(session, keyring, case.id, create=True)
    for field, value in data.model_dump(exclude_unset=True).items():
        if field in _SEALED:
            seal_text(cipher, case, field, value)
        else:
            setattr(case, field, value)
    case.updated_at = utcnow()  # a PATCH always bumps the version, even with no change
    await session.flush()
    access.audit(session, "case.updated", "case", case.id)
    return _to_read(cipher, access)


async def transition(
    session: AsyncSession,
    keyring: KeyRing,
    gates: Gates,
    access: CaseAccess,
    data: CaseTransitionCreate,
    expected_version: int,
) -> CaseRead:
    """Move the case along its scheme's table, if the gates of the target allow."""
    case = access.case
    check_version(expected_version, case.version)
    cycle = lifecycle(case.scheme)
    current = CaseStatus(case.status)
    allowed = cycle.allowed(current)
    if data.to not in allowed:
        raise IllegalTransition(
            f"A {case.scheme} case cannot go from '{current}' to '{data.to}'.",
            extra={
                "from": current.value,
                "to": data.to.value,
                "allowed": [s.value for s in allowed],
            },
        )
    intent = TransitionIntent(
        to=data.to,
        reason=data.reason,
        outcome=data.outcome,
        consent=data.consent.to_statement() if data.consent else None,
    )
    passed, failed = await gates.evaluate(
        GateContext(session, access.principal, case, current, intent)
    )
    if failed:
        # Audited as a denial: a refused disclosure (no consent, consent withdrawn)
        # must be answerable later, and the request's own transaction rolls back.
        raise TransitionGated(
            "; ".join(f["detail"] for f in failed),
            extra={"to": data.to.value, "gates": failed},
            denied=denial(
                Action.CASE_TRANSITION,
                access.principal,
                "case",
                case.id,
                "gated: " + ",".join(f["gate"] for f in failed),
            ),
        )
    now = utcnow()
    cipher = await case_cipher(session, keyring, case.id, create=True)
    step = CaseTransition(
        id=uuid.uuid4(),
        case_id=case.id,
        from_status=current.value,
        to_status=data.to.value,
        outcome=data.outcome.value if data.outcome else None,
        victim_aware=data.consent.victim_aware if data.consent else None,
        consent_given=data.consent.consent_given if data.consent else None,
        actor_id=access.principal.user_id,
        occurred_at=now,
        gates=passed,
    )
    seal_text(cipher, step, "reason", data.reason)
    no_consent = data.consent.no_consent_reason if data.consent else None
    seal_text(cipher, step, "no_consent_reason", no_consent)
    session.add(step)
    case.status = data.to.value
    if cycle.is_terminal(data.to):
        case.closed_at = now
        case.closure_outcome = data.outcome.value if data.outcome else None
        seal_text(cipher, case, "closure_reason", data.reason)
    await session.flush()
    access.audit(session, "case.transitioned", "case", case.id)
    emit(session, EventType.CASE_TRANSITIONED, access.principal, "case", case.id, case.id)
    return _to_read(cipher, access)


async def list_transitions(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess
) -> list[TransitionRead]:
    rows = (
        await session.scalars(
            select(CaseTransition)
            .where(CaseTransition.case_id == access.case.id)
            .order_by(CaseTransition.occurred_at, CaseTransition.id)
        )
    ).all()
    access.audit(session, "case.transitions.listed")
    cipher = await case_cipher(session, keyring, access.case.id)
    return [transition_read(cipher, t) for t in rows]


# --- lists and search ------------------------------------------------------------------


def _with_my_role(stmt: Select[Case], principal: Principal) -> Select[Any]:
    role = (
        select(CaseMember.case_role)
        .where(
            CaseMember.case_id == Case.id,
            CaseMember.user_id == principal.user_id,
            CaseMember.removed_at.is_(None),
        )
        .scalar_subquery()
    )
    return stmt.add_columns(role)


async def _page(
    session: AsyncSession, stmt: Select[Case], principal: Principal, cursor: str | None, limit: int
) -> tuple[list[tuple[Case, AccessKind]], str | None]:
    stmt = apply_keyset(_with_my_role(stmt, principal), Case.created_at, Case.id, cursor, limit)
    rows: list[Any] = list((await session.execute(stmt)).all())
    cases, nxt = page_of([row[0] for row in rows], limit, "created_at")
    kinds = {row[0].id: AccessKind.MEMBER if row[1] else AccessKind.EMERGENCY for row in rows}
    return [(c, kinds[c.id]) for c in cases], nxt


async def list_cases(
    session: AsyncSession,
    principal: Principal,
    *,
    scheme: Scheme | None,
    status: CaseStatus | None,
    team_id: uuid.UUID | None,
    risk_level: RiskLevel | None,
    review_overdue: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Case, AccessKind]], str | None]:
    """My cases, newest first. Filters only narrow the readable set."""
    now = utcnow()
    stmt = readable_cases(principal, now)
    if scheme is not None:
        stmt = stmt.where(Case.scheme == scheme.value)
    if status is not None:
        stmt = stmt.where(Case.status == status.value)
    if team_id is not None:
        stmt = stmt.where(Case.team_id == team_id)
    if risk_level is not None:
        stmt = stmt.where(Case.risk_level == risk_level.value)
    if review_overdue is True:
        stmt = stmt.where(Case.closed_at.is_(None), Case.next_review_at < now)
    elif review_overdue is False:
        stmt = stmt.where(
            or_(
                Case.closed_at.is_not(None),
                Case.next_review_at.is_(None),
                Case.next_review_at >= now,
            )
        )
    page = await _page(session, stmt, principal, cursor, limit)
    audit.record(session, principal, "case.listed", "case", None)
    return page


async def search_cases(
    session: AsyncSession, principal: Principal, data: CaseSearch, cursor: str | None, limit: int
) -> tuple[list[tuple[Case, AccessKind]], str | None]:
    """Search within the readable set by reference prefix and/or participant name.

    The name never reaches the audit log; only that a search happened.
    """
    stmt = readable_cases(principal)
    if data.reference:
        stmt = stmt.where(Case.reference.startswith(data.reference.upper(), autoescape=True))
    if data.participant_name:
        needle = " ".join(data.participant_name.lower().split())
        given_first = func.lower(Person.given_name + " " + Person.family_name)
        family_first = func.lower(Person.family_name + " " + Person.given_name)
        matching = (
            select(CaseParticipant.case_id)
            .join(Person, Person.id == CaseParticipant.person_id)
            .where(
                CaseParticipant.removed_at.is_(None),
                or_(
                    given_first.contains(needle, autoescape=True),
                    family_first.contains(needle, autoescape=True),
                ),
            )
        )
        stmt = stmt.where(Case.id.in_(matching))
    page = await _page(session, stmt, principal, cursor, limit)
    audit.record(session, principal, "case.searched", "case", None)
    return page

"""Concern intake and screening.

A concern is the *push* by which health and social services notify police
of a threat (police never pull: KHO 2021:13), and the way schools, youth
work and others raise a worry with an Ankkuri team or a Marak group. The
national strategy calls the old way a "black hole": nobody heard back. Here
the submitter always sees where the concern stands (received, under
consideration, action taken, no further action) and never the case content.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal
from app.casekeys.freetext import open_texts, seal_text
from app.cases import participants
from app.cases import service as cases
from app.cases.access import readable_case_ids
from app.cases.schemas import CaseCreate
from app.concerns.models import TEXTS, Concern
from app.concerns.schemas import (
    ConcernBox,
    ConcernCreate,
    ConcernFeedback,
    ConcernRead,
    ConcernStatus,
    ConcernUrgency,
    Decision,
    ScreeningCreate,
)
from app.directory.dependencies import TeamLoader
from app.directory.models import Team
from app.events.outbox import EventType, emit
from app.persons import service as persons
from app.persons.identity import birth_date_of
from app.persons.models import Person
from app.persons.schemas import PersonFields
from app.platform.crypto import KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.lookup import named_or_422
from app.platform.pagination import fetch_page
from app.platform.problems import Conflict, NotFound, denial, field_error

if TYPE_CHECKING:
    from app.cases.dependencies import CaseLoader

OPEN = {ConcernStatus.RECEIVED.value, ConcernStatus.UNDER_CONSIDERATION.value}


def feedback(concern: Concern) -> ConcernFeedback:
    return ConcernFeedback(
        id=concern.id,
        team_id=concern.team_id,
        urgency=ConcernUrgency(concern.urgency),
        status=ConcernStatus(concern.status),
        submitted_at=concern.created_at,
        status_changed_at=concern.status_changed_at,
    )


async def readable_among(
    session: AsyncSession, principal: Principal, concerns: Sequence[Concern]
) -> set[uuid.UUID]:
    """Which of these concerns' cases the caller may read (the one readable rule)."""
    return await readable_case_ids(
        session, principal, {c.case_id for c in concerns if c.case_id is not None}
    )


def full(keyring: KeyRing, concern: Concern, readable: set[uuid.UUID]) -> ConcernRead:
    """The screening view. The case a concern went into is named only to those who
    may read that case: the rest of the team sees that it was handled, not where.
    Its texts are opened with the field key."""
    texts = open_texts(keyring, concern, TEXTS)
    data: dict[str, Any] = {a.key: getattr(concern, a.key) for a in inspect(Concern).column_attrs}
    data.update(texts)
    if concern.case_id not in readable:
        data["case_id"] = None
    data["submitted_at"] = concern.created_at
    data["subject"] = {
        "given_name": texts["subject_given_name"],
        "family_name": texts["subject_family_name"],
        "birth_date": concern.subject_birth_date,
        "matched_existing": concern.matched_existing,
    }
    return ConcernRead.model_validate(data)


async def submit(
    session: AsyncSession, keyring: KeyRing, principal: Principal, data: ConcernCreate
) -> Concern:
    team = await named_or_422(session, Team, data.team_id, "team_id", "No such team.")
    subject = data.subject
    person, matched = await persons.find_or_record(
        session,
        keyring,
        principal,
        PersonFields(
            given_name=subject.given_name,
            family_name=subject.family_name,
            birth_date=subject.birth_date,
            identity_code=subject.identity_code,
            preferred_language=subject.preferred_language,
        ),
    )
    now = utcnow()
    concern = Concern(
        id=uuid.uuid4(),
        team_id=team.id,
        person_id=person.id,
        subject_birth_date=subject.birth_date or _born(subject.identity_code),
        matched_existing=matched,
        legal_basis=data.legal_basis.value,
        urgency=data.urgency.value,
        status=ConcernStatus.RECEIVED.value,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
        submitted_by=principal.user_id,
        submitter_organisation_id=principal.organisation_id,
    )
    seal_text(keyring, concern, "subject_given_name", subject.given_name)
    seal_text(keyring, concern, "subject_family_name", subject.family_name)
    seal_text(keyring, concern, "description", data.description)
    session.add(concern)
    await session.flush()
    audit.record(
        session, principal, "concern.submitted", "concern", concern.id, purpose=data.legal_basis
    )
    emit(session, EventType.CONCERN_RECEIVED, principal, "concern", concern.id)
    return concern


def _born(code: str | None) -> date | None:
    """The birth date the submitted code gives (never read from a matched record)."""
    return birth_date_of(code) if code else None


def _not_found(principal: Principal, concern_id: uuid.UUID, action: str) -> NotFound:
    return NotFound(
        "No such concern.",
        denied=denial(action, principal, "concern", concern_id, "not visible"),
    )


async def load_for_reading(
    session: AsyncSession, principal: Principal, concern_id: uuid.UUID
) -> tuple[Concern, bool]:
    """The concern and whether the caller screens it (team member) or only submitted it."""
    concern = await session.scalar(
        select(Concern).where(
            Concern.id == concern_id,
            (Concern.team_id.in_(principal.team_ids)) | (Concern.submitted_by == principal.user_id),
        )
    )
    if concern is None:
        raise _not_found(principal, concern_id, Action.CONCERN_READ)
    return concern, concern.team_id in principal.team_ids


async def read(
    session: AsyncSession, keyring: KeyRing, principal: Principal, concern: Concern, screener: bool
) -> Any:
    action = Action.CONCERN_READ if screener else "concern.feedback.read"
    audit.record(session, principal, action, "concern", concern.id)
    if not screener:
        return feedback(concern)
    return full(keyring, concern, await readable_among(session, principal, [concern]))


async def list_concerns(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    box: ConcernBox,
    cursor: str | None,
    limit: int,
) -> tuple[list[ConcernRead] | list[ConcernFeedback], str | None]:
    stmt: Select[Any] = select(Concern)
    if box == ConcernBox.INBOX:
        stmt = stmt.where(Concern.team_id.in_(principal.team_ids))
    else:
        stmt = stmt.where(Concern.submitted_by == principal.user_id)
    rows, nxt = await fetch_page(session, stmt, Concern.created_at, Concern.id, cursor, limit)
    audit.record(session, principal, f"concern.listed.{box.value}", "concern", None)
    if box == ConcernBox.INBOX:
        readable = await readable_among(session, principal, rows)
        return [full(keyring, c, readable) for c in rows], nxt
    return [feedback(c) for c in rows], nxt


async def load_for_team(
    session: AsyncSession, principal: Principal, concern_id: uuid.UUID, action: str
) -> Concern:
    """The concern, if it was sent to one of the caller's teams (the ``team_member``
    relation of screening); otherwise a 404 that the audit records as a denial."""
    concern = await session.scalar(
        select(Concern).where(Concern.id == concern_id, Concern.team_id.in_(principal.team_ids))
    )
    if concern is None:
        raise _not_found(principal, concern_id, action)
    return concern


async def screen(
    session: AsyncSession,
    keyring: KeyRing,
    case_of: CaseLoader,
    concern: Concern,
    data: ScreeningCreate,
    expected_version: int,
) -> Concern:
    """The receiving team decides: consider, open a case, attach to one, or dismiss.

    ``concern`` was loaded through the caller's teams (``load_for_team``, by the
    route's dependency); ``case_of`` loads the case a decision attaches to, with the
    relation the policy declares for screening into a case (``BODY_CASE``)."""
    principal = case_of.principal
    check_version(expected_version, concern.version)
    if concern.status not in OPEN:
        raise Conflict("This concern has already been screened.")
    if data.decision == Decision.UNDER_CONSIDERATION:
        if concern.status != ConcernStatus.RECEIVED.value:
            raise Conflict("This concern is already under consideration.")
        _set_status(concern, ConcernStatus.UNDER_CONSIDERATION, principal)
    elif data.decision == Decision.DISMISS:
        _set_status(concern, ConcernStatus.NO_FURTHER_ACTION, principal)
        concern.decision = data.decision.value
        seal_text(keyring, concern, "decision_reason", data.reason)
    else:
        case_id = await _take_action(session, keyring, case_of, concern, data)
        _set_status(concern, ConcernStatus.ACTION_TAKEN, principal)
        concern.decision = data.decision.value
        seal_text(keyring, concern, "decision_reason", data.reason)
        concern.case_id = case_id
    await session.flush()
    audit.record(
        session, principal, f"concern.screened.{data.decision.value}", "concern", concern.id
    )
    emit(session, EventType.CONCERN_SCREENED, principal, "concern", concern.id, concern.case_id)
    return concern


def _set_status(concern: Concern, status: ConcernStatus, principal: Principal) -> None:
    now = utcnow()
    concern.status = status.value
    concern.status_changed_at = now
    concern.updated_at = now
    if status != ConcernStatus.UNDER_CONSIDERATION:
        concern.screened_by, concern.screened_at = principal.user_id, now


async def _take_action(
    session: AsyncSession,
    keyring: KeyRing,
    case_of: CaseLoader,
    concern: Concern,
    data: ScreeningCreate,
) -> uuid.UUID:
    principal = case_of.principal
    assert data.participant_role is not None
    if data.decision == Decision.CREATE_CASE:
        # The concern was loaded through the caller's teams; the loader checks it again.
        team = await TeamLoader(session, principal, Action.CONCERN_SCREEN)(concern.team_id)
        create = CaseCreate(team_id=team.id, summary=data.summary)
        access = await cases.create_case(session, keyring, principal, team, create)
    else:
        assert data.case_id is not None
        access = await case_of(data.case_id)
        if access.case.team_id != concern.team_id:
            raise field_error(
                "case_id",
                "Attach the concern to a case of the team it was sent to.",
                "team",
            )
    person = await session.get(Person, concern.person_id)
    assert person is not None
    await participants.attach_person(session, access, person, data.participant_role)
    return access.case.id

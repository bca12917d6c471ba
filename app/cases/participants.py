"""Participants: the people a case is about, each in a role.

Adding a participant either records a new minimal person (owned by the
caller's organisation) or links a person the caller can already see. A person
is visible to someone who recorded them or who can read a case they take part
in (:func:`visible_person_ids`, which the persons domain may ask as well).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.auth.policy import Action
from app.auth.principal import Principal
from app.cases.access import CaseAccess, granted_case_ids, member_case_ids
from app.cases.entries import (
    amend_standing,
    get_standing,
    list_standing,
    reinstate,
    remove_standing,
)
from app.cases.models import CaseParticipant
from app.cases.schemas import (
    ParticipantCreate,
    ParticipantRead,
    ParticipantRole,
    ParticipantUpdate,
)
from app.persons import service as persons
from app.persons.models import Person
from app.persons.protected import non_disclosed
from app.persons.schemas import PersonFields
from app.platform.crypto import KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.problems import Conflict, denial, field_error


def visible_person_ids(principal: Principal, now: datetime | None = None) -> Select[uuid.UUID]:
    """People the caller may refer to: recorded by them, or in a case they can read."""
    now = now or utcnow()
    in_readable_case = select(CaseParticipant.person_id).where(
        CaseParticipant.removed_at.is_(None),
        or_(
            CaseParticipant.case_id.in_(member_case_ids(principal)),
            CaseParticipant.case_id.in_(granted_case_ids(principal, now)),
        ),
    )
    return select(Person.id).where(
        or_(Person.created_by == principal.user_id, Person.id.in_(in_readable_case))
    )


def to_read(participant: CaseParticipant, keyring: KeyRing) -> ParticipantRead:
    """The participant with the person's basic record; turvakielto is always flagged."""
    out = ParticipantRead.model_validate(participant)
    out.person.non_disclosure = non_disclosed(keyring, participant.person)
    return out


async def list_participants(session: AsyncSession, access: CaseAccess) -> Sequence[CaseParticipant]:
    load_person = selectinload(CaseParticipant.person)
    return await list_standing(
        session, access, CaseParticipant, "case.participant.listed", load_person
    )


async def get_participant(
    session: AsyncSession, access: CaseAccess, participant_id: uuid.UUID, action: str
) -> CaseParticipant:
    load_person = selectinload(CaseParticipant.person)
    return await get_standing(
        session, access, CaseParticipant, participant_id, action, "case_participant", load_person
    )


def read_participant(
    session: AsyncSession, access: CaseAccess, participant: CaseParticipant, keyring: KeyRing
) -> ParticipantRead:
    access.audit(session, Action.CASE_PARTICIPANT_READ, "case_participant", participant.id)
    return to_read(participant, keyring)


async def add_participant(
    session: AsyncSession, access: CaseAccess, data: ParticipantCreate, keyring: KeyRing
) -> CaseParticipant:
    case, principal = access.case, access.principal
    if data.person_id is not None:
        # Loaded through the visibility query: someone else's person is "not found".
        person = await session.scalar(
            select(Person).where(
                Person.id == data.person_id, Person.id.in_(visible_person_ids(principal))
            )
        )
        if person is None:
            raise field_error(
                "person_id",
                "No such person.",
                "not_found",
                denied=denial(
                    Action.CASE_PARTICIPANT_WRITE,
                    principal,
                    "person",
                    data.person_id,
                    "person not visible",
                ),
            )
        existing = await session.scalar(
            select(CaseParticipant)
            .where(CaseParticipant.case_id == case.id, CaseParticipant.person_id == person.id)
            .options(selectinload(CaseParticipant.person))
        )
    else:
        assert data.person is not None
        person = await persons.create_person(
            session,
            keyring,
            principal,
            None,
            PersonFields(
                given_name=data.person.given_name,
                family_name=data.person.family_name,
                birth_date=data.person.birth_date,
            ),
            case_id=case.id,
        )
        existing = None
    return await _attach(session, access, person, data.role, existing)


async def attach_person(
    session: AsyncSession, access: CaseAccess, person: Person, role: ParticipantRole
) -> CaseParticipant:
    """Make an already resolved person a participant (used by the persons and
    concerns routes, which resolve the person through a match handle or intake,
    not through this case's visibility)."""
    existing = await session.scalar(
        select(CaseParticipant)
        .where(CaseParticipant.case_id == access.case.id, CaseParticipant.person_id == person.id)
        .options(selectinload(CaseParticipant.person))
    )
    return await _attach(session, access, person, role, existing)


async def _attach(
    session: AsyncSession,
    access: CaseAccess,
    person: Person,
    role: ParticipantRole,
    existing: CaseParticipant | None,
) -> CaseParticipant:
    case = access.case
    if existing is not None and existing.removed_at is None:
        raise Conflict("This person is already a participant of the case.")
    participant = existing or CaseParticipant(case_id=case.id, person_id=person.id, person=person)
    if existing is None:
        session.add(participant)
    participant.role = role.value
    reinstate(participant, access)
    await session.flush()
    access.audit(session, "case.participant.added", "case_participant", participant.id)
    return participant


async def update_participant(
    session: AsyncSession,
    access: CaseAccess,
    participant: CaseParticipant,
    data: ParticipantUpdate,
    expected_version: int,
) -> CaseParticipant:
    check_version(expected_version, participant.version)
    participant.role = data.role.value
    updated = "case.participant.updated"
    await amend_standing(session, access, participant, updated, "case_participant")
    return participant


async def remove_participant(
    session: AsyncSession, access: CaseAccess, participant: CaseParticipant, expected_version: int
) -> None:
    check_version(expected_version, participant.version)
    removed = "case.participant.removed"
    await remove_standing(session, access, participant, removed, "case_participant")

"""Small factories that arrange case data directly in the test's transaction.

HTTP is for the behaviour under test; these are for the world around it, and
they are fast. Users, organisations and teams come from tests/world.py (the
names are re-exported here for the generated matrices in tests/security).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher
from app.cases.lifecycle import lifecycle
from app.cases.models import Case, CaseMember, CaseNote, CaseParticipant, EmergencyGrant
from app.directory.models import Team
from app.persons.models import Person
from app.platform.crypto import KeyRing
from app.platform.db import utcnow
from tests.world import Actor, join_team, make_org, make_team, make_user, short

__all__ = [
    "Actor",
    "add_grant",
    "add_member",
    "add_note",
    "add_participant",
    "add_person",
    "join_team",
    "make_case",
    "make_org",
    "make_team",
    "make_user",
    "short",
]


async def make_case(
    db: AsyncSession,
    team: Team,
    lead: Actor,
    *,
    status: str | None = None,
    **fields: Any,
) -> Case:
    case = Case(
        scheme=team.kind,
        team_id=team.id,
        owner_organisation_id=lead.org_id,
        reference=f"TST-{short().upper()}",
        status=status or lifecycle(team.kind).initial.value,
        created_by=lead.id,
        **fields,
    )
    db.add(case)
    await db.flush()
    await add_member(db, case, lead, "lead")
    return case


async def add_member(
    db: AsyncSession, case: Case, actor: Actor, role: str = "member"
) -> CaseMember:
    member = CaseMember(case_id=case.id, user_id=actor.id, case_role=role, added_by=actor.id)
    db.add(member)
    await db.flush()
    return member


async def add_grant(
    db: AsyncSession, case: Case, actor: Actor, minutes: int = 60, role: str = "police"
) -> EmergencyGrant:
    grant = EmergencyGrant(
        case_id=case.id,
        user_id=actor.id,
        organisation_id=actor.org_id,
        role=role,
        # As written before 0021 (plain text, read until ``keys rotate`` seals it);
        # grants made through the API are sealed (tests/security/test_data_at_rest.py).
        reason_plain="Imminent danger reported by the night shift, need contacts.",
        expires_at=utcnow() + timedelta(minutes=minutes),
    )
    db.add(grant)
    await db.flush()
    return grant


async def add_person(
    db: AsyncSession, by: Actor, given: str = "Maija", family: str = "Meikäläinen"
) -> Person:
    person = Person(
        given_name=given, family_name=family, owner_organisation_id=by.org_id, created_by=by.id
    )
    db.add(person)
    await db.flush()
    return person


async def add_participant(
    db: AsyncSession, case: Case, by: Actor, role: str = "victim", person: Person | None = None
) -> CaseParticipant:
    person = person or await add_person(db, by)
    participant = CaseParticipant(case_id=case.id, person_id=person.id, role=role, added_by=by.id)
    db.add(participant)
    await db.flush()
    return participant


async def add_note(
    db: AsyncSession,
    case: Case,
    author: Actor,
    *,
    visibility: str = "case",
    role: str | None = None,
    text: str = "Met the family; situation calm.",
    keyring: KeyRing | None = None,
) -> CaseNote:
    """A note; sealed under the case key with ``keyring``, else in plain text as
    written before 0021 (the application reads both; ``keys rotate`` seals it)."""
    note = CaseNote(
        case_id=case.id,
        author_id=author.id,
        author_name=f"Test {author.sub}",
        author_organisation_id=author.org_id,
        author_role=role or author.roles[0],
        visibility=visibility,
        kind="fact",
    )
    if keyring is None:
        note.text_plain = text
    else:
        note.id = uuid.uuid4()
        seal_text(await case_cipher(db, keyring, case.id, create=True), note, "text", text)
    db.add(note)
    await db.flush()
    return note

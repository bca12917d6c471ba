"""Demo people for the demo cases: identity codes, protected fields, consents.

Everyone here is fictional. Identity codes are generated with a correct check
character in the 900-999 series, which is never given as a permanent code,
so no demo code can be a real person's. The Marak victim's code uses one of
the century signs introduced in 2023.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher
from app.cases.models import Case, CaseExclusion, CaseParticipant
from app.directory.models import Organisation, User
from app.persons import facts
from app.persons import service as persons
from app.persons.identity import make_code
from app.persons.models import Consent, Person
from app.persons.protected import Reach
from app.persons.schemas import PersonFields
from app.platform.crypto import KeyRing
from app.platform.db import utcnow


@dataclass(frozen=True)
class DemoPerson:
    born: date
    individual: int  # 900-999: the test series
    sign: str | None = None
    language: str = "fi"
    protected: dict[str, Any] = field(default_factory=dict)


PEOPLE: dict[tuple[str, str], DemoPerson] = {
    ("Eetu", "Esimerkki"): DemoPerson(date(2010, 3, 14), 901),
    ("Erja", "Esimerkki"): DemoPerson(
        date(1982, 7, 2),
        902,
        protected={"phones": [{"number": "+358 40 000 0902", "label": "mobile"}]},
    ),
    ("Vilma", "Virtanen"): DemoPerson(
        date(1990, 5, 21),
        903,
        sign="Y",
        protected={
            "non_disclosure": True,
            "address": {
                "street": "Turvakoti (shelter), room 4",
                "city": "Helsinki",
                "is_shelter": True,
            },
            "phones": [{"number": "+358 50 000 0903", "label": "new phone", "safe_to_call": True}],
            "safe_contact": {
                "safe_to_call": True,
                "safe_times": "Weekdays 10-14",
                "feared_persons": "Ex-partner and his brother",
                "not_safe_to_talk_to": "Ex-partner's family",
            },
        },
    ),
    ("Ville", "Virtanen"): DemoPerson(date(1987, 11, 30), 904),
    ("Henri", "Huolestuttava"): DemoPerson(date(1995, 1, 9), 905, language="sv"),
}

#: Bases on record per demo case reference: (person, basis, scope, given by, guardian).
BASES: dict[str, list[tuple[tuple[str, str], str, str, str | None, tuple[str, str] | None]]] = {
    "ANK-DEMO-0001": [
        (("Eetu", "Esimerkki"), "consent", "ankkuri_sharing", "guardian", ("Erja", "Esimerkki"))
    ],
    "MRK-DEMO-0001": [(("Vilma", "Virtanen"), "consent", "marak_sharing", "person", None)],
    "HAH-DEMO-0001": [
        (("Henri", "Huolestuttava"), "police_statutory_duty", "hah_sharing", None, None)
    ],
}
#: Who must never receive a demo case's information.
MUST_NOT_RECEIVE = {"MRK-DEMO-0001": [("Ville", "Virtanen")]}


async def principal_of(session: AsyncSession, user: User) -> Principal:
    code = await session.scalar(
        select(Organisation.code).where(Organisation.id == user.organisation_id)
    )
    return Principal(
        user_id=user.id,
        subject=user.subject,
        name=user.name,
        organisation_id=user.organisation_id,
        organisation_code=code or "",
        roles=frozenset(Role(r) for r in user.roles),
    )


async def record(
    session: AsyncSession, keyring: KeyRing, lead: Principal, case: Case, given: str, family: str
) -> Person:
    spec = PEOPLE.get((given, family))
    if spec is None:
        fields = PersonFields(given_name=given, family_name=family)
    else:
        fields = PersonFields.model_validate(
            {
                "given_name": given,
                "family_name": family,
                "identity_code": make_code(spec.born, spec.individual, spec.sign),
                "preferred_language": spec.language,
                **spec.protected,
            }
        )
    reach = Reach.member_of(case.id, case.owner_organisation_id)
    person = await persons.create_person(session, keyring, lead, reach, fields)
    # The address, phones and safe contact are this demo case's facts.
    await facts.record_initial(session, keyring, lead, case.id, person.id, fields)
    return person


async def seed_bases(
    session: AsyncSession,
    keyring: KeyRing,
    case: Case,
    lead: Principal,
    people: dict[tuple[str, str], Person],
) -> None:
    for who, basis, scope, given_by, guardian in BASES.get(case.reference, []):
        session.add(
            Consent(
                person_id=people[who].id,
                case_id=case.id,
                basis=basis,
                scope=scope,
                given_by=given_by,
                guardian_person_id=people[guardian].id if guardian else None,
                method="written" if basis == "consent" else None,
                obtained_at=utcnow(),
                obtained_by=lead.user_id,
                obtained_by_organisation_id=lead.organisation_id,
            )
        )
    cipher = await case_cipher(session, keyring, case.id, create=True)
    for who in MUST_NOT_RECEIVE.get(case.reference, []):
        entry = CaseExclusion(
            id=uuid.uuid4(), case_id=case.id, person_id=people[who].id, added_by=lead.user_id
        )
        reason = "The perpetrator: must never learn where the victim is."
        seal_text(cipher, entry, "reason", reason)
        session.add(entry)
    await session.flush()


async def add_participants(
    session: AsyncSession,
    keyring: KeyRing,
    lead_user: User,
    case: Case,
    participants: tuple[tuple[str, str, str], ...],
) -> None:
    """Record the demo case's people (with their codes and protected fields) and bases."""
    lead = await principal_of(session, lead_user)
    people: dict[tuple[str, str], Person] = {}
    for role, given, family in participants:
        person = await record(session, keyring, lead, case, given, family)
        people[(given, family)] = person
        session.add(
            CaseParticipant(case_id=case.id, person_id=person.id, role=role, added_by=lead.user_id)
        )
    await session.flush()
    await seed_bases(session, keyring, case, lead, people)

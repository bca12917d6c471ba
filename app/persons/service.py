"""Persons: recording, reading per visibility, identity corrections as versions.

Identity only: the facts a case records about the person (address, phones,
safe contact) are app/persons/facts.py's, and a read shows them only for one
named case the caller can read.

This domain sits below cases, so it never asks which cases a caller can see.
The router does, and hands the answer in: a :class:`PersonAccess` for one
person (how the caller reaches them) or a ``Select`` of visible person ids.
Services only flush; every read and write of a person is audited with the
person as the target, which is what the access report is built from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal
from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher
from app.persons import identity
from app.persons.models import Person, PersonCaseFacts, PersonVersion
from app.persons.protected import (
    IDENTITY_COLUMNS,
    Protected,
    Reach,
    may_see_non_disclosed_address,
    may_see_protected,
    open_protected,
    seal_field,
    visibility,
)
from app.persons.schemas import (
    BASIC_FIELDS,
    FACT_FIELDS,
    PROTECTED_FIELDS,
    AnyPersonRead,
    PersonFields,
    PersonRead,
    PersonReadAddressWithheld,
    PersonReadIdentity,
    PersonReadProtected,
    PersonUpdate,
    Visibility,
    check_birth_date,
)
from app.persons.search import issue_match_handle
from app.platform.crypto import CaseCipher, FieldContext, KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.problems import Conflict, Forbidden, denial, field_error


class IdentityCodeInUse(Conflict):
    type = "identity-code-in-use"
    title = "Identity code already recorded"


@dataclass(frozen=True)
class PersonAccess:
    """A person the caller may read, and how (from the router's case query)."""

    person: Person
    principal: Principal
    reach: Reach
    action: Action  # the route's declared action (services take it from here)

    @property
    def purpose(self) -> str:
        return "emergency access" if self.reach.emergency_only else "case work"

    @property
    def case_id(self) -> uuid.UUID:
        """The one case of a case-scoped access (facts routes, identity corrections)."""
        (case_id,) = self.reach.case_ids
        return case_id

    def audit_in_case(self, session: AsyncSession, action: str) -> None:
        """Record an access to the person made through its one case (case-scoped routes)."""
        purpose = f"{self.purpose}; case {self.case_id}"
        audit.record(session, self.principal, action, "person", self.person.id, purpose=purpose)

    def through(self, case_id: uuid.UUID) -> PersonAccess | None:
        """The same access narrowed to one case (None if the caller cannot read it)."""
        reach = self.reach.in_case(case_id)
        return (
            None if reach is None else PersonAccess(self.person, self.principal, reach, self.action)
        )


# --- rendering ---------------------------------------------------------------------


def _core(person: Person, protected: Protected) -> dict[str, Any]:
    return {
        "id": person.id,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "birth_date": person.birth_date,
        "preferred_language": person.preferred_language,
        "non_disclosure": protected.non_disclosure,
        "identity_code_recorded": person.identity_code_index is not None,
        "owner_organisation_id": person.owner_organisation_id,
        "created_at": person.created_at,
        "updated_at": person.updated_at,
        "version": person.version,
    }


def render(
    keyring: KeyRing,
    principal: Principal,
    reach: Reach,
    person: Person,
    case_id: uuid.UUID | None = None,
    facts: PersonCaseFacts | None = None,
    case: CaseCipher | None = None,
) -> AnyPersonRead:
    """The schema this caller's visibility allows: absent fields, never nulled ones.

    Without ``case_id``: the identity only. With it (``reach`` then being the
    reach through that case): the identity and that case's ``facts``.
    """
    protected = open_protected(keyring, person, facts, case)
    core = _core(person, protected)
    seen = visibility(principal, reach, protected.non_disclosure)
    if seen == Visibility.BASIC:
        return PersonRead.model_validate(core)
    if case_id is None:
        return PersonReadIdentity.model_validate({**core, "identity_code": protected.identity_code})
    extra = {
        "case_id": case_id,
        "identity_code": protected.identity_code,
        "phones": protected.phones,
        "safe_contact": protected.safe_contact,
    }
    if seen == Visibility.ADDRESS_WITHHELD:
        return PersonReadAddressWithheld.model_validate({**core, **extra})
    return PersonReadProtected.model_validate({**core, **extra, "address": protected.address})


def render_basic(keyring: KeyRing, person: Person) -> PersonRead:
    return PersonRead.model_validate(_core(person, open_protected(keyring, person)))


def snapshot(person: Person, protected: Protected) -> dict[str, Any]:
    """The identity as a version holds it (a case's facts have their own versions)."""
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "preferred_language": person.preferred_language,
        "identity_code": protected.identity_code,
        "non_disclosure": protected.non_disclosure,
    }


def _write_version(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    person: Person,
    reason: str,
    changed: list[str],
    case_id: uuid.UUID | None,
) -> None:
    row = PersonVersion(
        id=uuid.uuid4(),
        person_id=person.id,
        version=person.version,
        case_id=case_id,
        author_id=principal.user_id,
        author_name=principal.name[:200],
        author_organisation_id=principal.organisation_id,
        changed_fields=sorted(set(changed) - FACT_FIELDS),
    )
    seal_text(keyring, row, "reason", reason)
    state = snapshot(person, open_protected(keyring, person))
    row.snapshot_enc = keyring.seal_json(state, FieldContext.of(row, "snapshot_enc"))
    session.add(row)


# --- create ------------------------------------------------------------------------


def _forbid_protected(principal: Principal, action: str, target: uuid.UUID | None) -> Forbidden:
    return Forbidden(
        "Your role may not see or change protected fields of this person.",
        denied=denial(action, principal, "person" if target else None, target, "protected fields"),
    )


async def _index_owner(session: AsyncSession, index: str) -> uuid.UUID | None:
    return await session.scalar(select(Person.id).where(Person.identity_code_index == index))


async def create_person(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    reach: Reach | None,
    data: PersonFields,
    case_id: uuid.UUID | None = None,
) -> Person:
    """Record a new person's identity (the caller then makes them a participant
    of a case and records the facts given as that case's: app/persons/facts.py).

    ``reach`` is the case the person is recorded into; without one, no
    protected field may be given. The first version records the case
    (``case_id``, else the reach's).
    """
    given = {k for k in data.model_fields_set if k in PROTECTED_FIELDS}
    if given and (reach is None or not may_see_protected(principal, reach)):
        raise _forbid_protected(principal, Action.PERSON_CREATE, None)
    if (
        data.non_disclosure
        and data.address
        and (reach is None or not may_see_non_disclosed_address(principal, reach))
    ):
        raise _forbid_protected(principal, Action.PERSON_CREATE, None)
    index = identity.blind_index(keyring, data.identity_code) if data.identity_code else None
    if index is not None:
        existing = await _index_owner(session, index)
        if existing is not None:
            handle = issue_match_handle(keyring, principal, existing)
            raise IdentityCodeInUse(
                "A person with this identity code is already recorded. "
                "Attach them with the match handle instead of recording a duplicate.",
                extra={"match": handle.model_dump(mode="json")},
            )
    if case_id is None and reach is not None and reach.case_ids:
        case_id = min(reach.case_ids)
    return await _insert(
        session, keyring, principal, data, index, "person.created", "case work", case_id
    )


async def _insert(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    data: PersonFields,
    index: str | None,
    action: str,
    purpose: str,
    case_id: uuid.UUID | None = None,
) -> Person:
    person = Person(
        id=uuid.uuid4(),
        given_name=data.given_name,
        family_name=data.family_name,
        birth_date=data.birth_date,
        preferred_language=data.preferred_language.value if data.preferred_language else None,
        identity_code_index=index,
        owner_organisation_id=principal.organisation_id,
        created_by=principal.user_id,
    )
    values = data.model_dump(mode="json", include=set(IDENTITY_COLUMNS))
    for name in IDENTITY_COLUMNS:
        seal_field(keyring, person, name, values.get(name))
    session.add(person)
    await session.flush()
    changed = sorted(data.model_fields_set)
    _write_version(session, keyring, principal, person, "recorded", changed, case_id)
    audit.record(session, principal, action, "person", person.id, purpose=purpose)
    return person


async def find_or_record(
    session: AsyncSession, keyring: KeyRing, principal: Principal, data: PersonFields
) -> tuple[Person, bool]:
    """The person a concern is about: matched by identity code, else newly recorded.

    The caller learns nothing either way (a concern's submitter sees only its
    status), so matching here reveals no other case.
    """
    if data.identity_code is not None:
        index = identity.blind_index(keyring, data.identity_code)
        existing = await session.scalar(select(Person).where(Person.identity_code_index == index))
        if existing is not None:
            audit.record(
                session, principal, "person.matched", "person", existing.id, purpose="concern"
            )
            return existing, True
    else:
        index = None
    recorded = await _insert(
        session, keyring, principal, data, index, "person.recorded", "concern", None
    )
    return recorded, False


# --- read and correct ---------------------------------------------------------------


async def read_person(
    session: AsyncSession, keyring: KeyRing, access: PersonAccess, case_id: uuid.UUID | None
) -> AnyPersonRead:
    """The identity; with ``case_id`` (``access`` narrowed to it) also that case's facts."""
    facts = case = None
    if case_id is not None:
        facts = await load_facts(session, case_id, access.person.id)
        case = await case_cipher(session, keyring, case_id)
    purpose = access.purpose if case_id is None else f"{access.purpose}; case {case_id}"
    audit.record(
        session, access.principal, Action.PERSON_READ, "person", access.person.id, purpose=purpose
    )
    return render(keyring, access.principal, access.reach, access.person, case_id, facts, case)


async def load_facts(
    session: AsyncSession, case_id: uuid.UUID, person_id: uuid.UUID
) -> PersonCaseFacts | None:
    return await session.scalar(
        select(PersonCaseFacts).where(
            PersonCaseFacts.case_id == case_id, PersonCaseFacts.person_id == person_id
        )
    )


async def correct_person(
    session: AsyncSession,
    keyring: KeyRing,
    access: PersonAccess,
    data: PersonUpdate,
    expected_version: int,
) -> AnyPersonRead:
    """Correct the identity as a new version, with its author, reason and the case
    (``access`` is narrowed to the case the correction is made through)."""
    person, principal = access.person, access.principal
    check_version(expected_version, person.version)
    changes = data.changes()
    current = open_protected(keyring, person)
    touches_protected = bool(changes.keys() & PROTECTED_FIELDS)
    if touches_protected and not may_see_protected(principal, access.reach):
        raise _forbid_protected(principal, Action.PERSON_UPDATE, person.id)
    birth = changes.get("birth_date", person.birth_date)
    code = changes.get("identity_code", current.identity_code)
    try:
        check_birth_date(birth, code)  # type: ignore[arg-type]
    except ValueError as exc:
        raise field_error(
            "birth_date",
            str(exc),
            "mismatch",
        ) from exc
    if "identity_code" in changes:
        index = identity.blind_index(keyring, code) if code else None  # type: ignore[arg-type]
        owner = await _index_owner(session, index) if index else None
        if owner is not None and owner != person.id:
            raise IdentityCodeInUse("Another person record has this identity code.")
        person.identity_code_index = index
    dumped = data.model_dump(mode="json", include=set(changes))
    for name in changes:
        if name in IDENTITY_COLUMNS:
            seal_field(keyring, person, name, dumped[name])
        elif name in BASIC_FIELDS:
            setattr(person, name, changes[name])
    if "preferred_language" in changes:
        person.preferred_language = dumped["preferred_language"]
    person.updated_at = utcnow()  # always a new version, even if nothing differs
    await session.flush()
    case_id = access.case_id
    _write_version(session, keyring, principal, person, data.reason, list(changes), case_id)
    access.audit_in_case(session, "person.corrected")
    facts = await load_facts(session, case_id, person.id)
    case = await case_cipher(session, keyring, case_id)
    return render(keyring, principal, access.reach, person, case_id, facts, case)

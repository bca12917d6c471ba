"""What one case records about reaching a person: address or shelter, phones and
the safe-contact arrangement (feared persons included).

These are never the person's: another team that attaches the same person to
its case gets the identity and records its own facts. Every read and write
names the case, the caller's reach is narrowed to it (the router's job), and
the rows are sealed to their own id and column. Corrections are versions
with author and reason, holding a sealed snapshot of the case's facts.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from app.auth.principal import Principal
from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher
from app.persons.fact_schemas import (
    AnyFacts,
    FactsAddressWithheld,
    FactsBasic,
    FactsHistory,
    FactsProtected,
    FactsSnapshotAddressWithheld,
    FactsSnapshotBasic,
    FactsSnapshotProtected,
    FactsUpdate,
    FactsVersionRead,
)
from app.persons.models import PersonCaseFacts, PersonCaseFactsVersion
from app.persons.protected import (
    may_see_non_disclosed_address,
    may_see_protected,
    non_disclosed,
    open_protected,
    seal_field,
    visibility,
)
from app.persons.schemas import FACT_FIELDS, PersonFields, Visibility
from app.persons.service import PersonAccess, _forbid_protected, load_facts
from app.platform.crypto import CaseCipher, FieldContext, KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version

SHOWN: dict[Visibility, frozenset[str]] = {
    Visibility.BASIC: frozenset(),
    Visibility.IDENTITY: frozenset(),
    Visibility.ADDRESS_WITHHELD: frozenset({"phones", "safe_contact"}),
    Visibility.PROTECTED: frozenset({"address", "phones", "safe_contact"}),
}
SNAPSHOTS: dict[
    Visibility,
    type[FactsSnapshotBasic | FactsSnapshotAddressWithheld | FactsSnapshotProtected],
] = {
    Visibility.BASIC: FactsSnapshotBasic,
    Visibility.IDENTITY: FactsSnapshotBasic,
    Visibility.ADDRESS_WITHHELD: FactsSnapshotAddressWithheld,
    Visibility.PROTECTED: FactsSnapshotProtected,
}


def _state(case: CaseCipher, facts: PersonCaseFacts) -> dict[str, Any]:
    def opened(column: str) -> Any:
        sealed = getattr(facts, column)
        return None if sealed is None else case.open_json(sealed, FieldContext.of(facts, column))

    return {
        "address": opened("address_enc"),
        "phones": opened("phones_enc") or [],
        "safe_contact": opened("safe_contact_enc"),
    }


async def write_facts(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    case_id: uuid.UUID,
    person_id: uuid.UUID,
    values: dict[str, Any],
    reason: str,
    facts: PersonCaseFacts | None = None,
) -> PersonCaseFacts:
    """Seal ``values`` (JSON-ready) as the case's facts, under the case's key, and
    write a version."""
    case = await case_cipher(session, keyring, case_id, create=True)
    if facts is None:
        facts = PersonCaseFacts(id=uuid.uuid4(), case_id=case_id, person_id=person_id)
        for name, value in values.items():
            seal_field(keyring, facts, name, value, case)
        try:
            async with session.begin_nested():
                session.add(facts)
                await session.flush()
        except IntegrityError:
            # Another request recorded this case's first facts meanwhile: as stale as
            # a version mismatch (re-read and retry), never a 5xx.
            check_version(0, 1)
    else:
        facts.updated_at = utcnow()  # always a new version, even if nothing differs
        for name, value in values.items():
            seal_field(keyring, facts, name, value, case)
        await session.flush()
    row = PersonCaseFactsVersion(
        id=uuid.uuid4(),
        facts_id=facts.id,
        version=facts.version,
        author_id=principal.user_id,
        author_name=principal.name[:200],
        author_organisation_id=principal.organisation_id,
        changed_fields=sorted(values),
    )
    seal_text(case, row, "reason", reason)
    row.snapshot_enc = case.seal_json(_state(case, facts), FieldContext.of(row, "snapshot_enc"))
    session.add(row)
    return facts


async def record_initial(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    case_id: uuid.UUID,
    person_id: uuid.UUID,
    data: PersonFields,
) -> None:
    """The facts given when recording a person into a case become that case's."""
    given = data.model_fields_set & FACT_FIELDS
    if not given:
        return
    values = data.model_dump(mode="json", include=set(given))
    await write_facts(session, keyring, principal, case_id, person_id, values, "recorded")


def render_facts(
    keyring: KeyRing, access: PersonAccess, facts: PersonCaseFacts | None, case: CaseCipher
) -> AnyFacts:
    person, principal = access.person, access.principal
    hidden = non_disclosed(keyring, person)
    core = {
        "case_id": access.case_id,
        "person_id": person.id,
        "non_disclosure": hidden,
        "version": facts.version if facts else 0,
        "updated_at": facts.updated_at if facts else None,
    }
    seen = visibility(principal, access.reach, hidden)
    if seen in (Visibility.BASIC, Visibility.IDENTITY):
        return FactsBasic.model_validate(core)
    state = _state(case, facts) if facts else {"address": None, "phones": [], "safe_contact": None}
    if seen == Visibility.ADDRESS_WITHHELD:
        return FactsAddressWithheld.model_validate(
            {**core, "phones": state["phones"], "safe_contact": state["safe_contact"]}
        )
    return FactsProtected.model_validate({**core, **state})


async def read_facts(
    session: AsyncSession, keyring: KeyRing, access: PersonAccess
) -> tuple[AnyFacts, int]:
    facts = await load_facts(session, access.case_id, access.person.id)
    case = await case_cipher(session, keyring, access.case_id)
    access.audit_in_case(session, Action.PERSON_FACTS_READ)
    return render_facts(keyring, access, facts, case), facts.version if facts else 0


async def correct_facts(
    session: AsyncSession,
    keyring: KeyRing,
    access: PersonAccess,
    data: FactsUpdate,
    expected_version: int,
) -> tuple[AnyFacts, int]:
    """Correct this case's facts as a new version (the first correction records them)."""
    person, principal = access.person, access.principal
    facts = await load_facts(session, access.case_id, person.id)
    check_version(expected_version, facts.version if facts else 0)
    changes = data.changes()
    if not may_see_protected(principal, access.reach):
        raise _forbid_protected(principal, Action.PERSON_FACTS_UPDATE, person.id)
    hidden = open_protected(keyring, person).non_disclosure
    if (
        "address" in changes
        and hidden
        and not may_see_non_disclosed_address(principal, access.reach)
    ):
        raise _forbid_protected(principal, Action.PERSON_FACTS_UPDATE, person.id)
    values = data.model_dump(mode="json", include=set(changes))
    facts = await write_facts(
        session, keyring, principal, access.case_id, person.id, values, data.reason, facts
    )
    access.audit_in_case(session, "person.facts.corrected")
    case = await case_cipher(session, keyring, access.case_id)
    return render_facts(keyring, access, facts, case), facts.version


async def facts_history(
    session: AsyncSession, keyring: KeyRing, access: PersonAccess
) -> FactsHistory:
    """This case's versions of its facts (never another case's)."""
    person, principal = access.person, access.principal
    rows = (
        await session.scalars(
            select(PersonCaseFactsVersion)
            .join(PersonCaseFacts, PersonCaseFacts.id == PersonCaseFactsVersion.facts_id)
            .where(
                PersonCaseFacts.case_id == access.case_id,
                PersonCaseFacts.person_id == person.id,
            )
            .order_by(PersonCaseFactsVersion.version)
        )
    ).all()
    seen = visibility(principal, access.reach, non_disclosed(keyring, person))
    shown = SHOWN[seen]
    case = await case_cipher(session, keyring, access.case_id)
    versions = []
    for row in rows:
        snapshot = SNAPSHOTS[seen].model_validate(row.shown_snapshot(case, shown))
        versions.append(FactsVersionRead(**row.authored(case, shown), snapshot=snapshot))
    access.audit_in_case(session, Action.PERSON_FACTS_HISTORY_READ)
    return FactsHistory(case_id=access.case_id, person_id=person.id, versions=versions)

"""A person's versions: every correction with its author and reason.

Each snapshot is shown through the same visibility as the current record,
and a snapshot's address is withheld if the person is under turvakielto now
*or* was then: an old address of someone who has since moved into hiding
is exactly what must not leak.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.crypto import FieldContext, KeyRing
from app.persons.models import PersonVersion
from app.persons.protected import open_protected, visibility
from app.persons.schemas import (
    BASIC_FIELDS,
    PersonHistory,
    PersonVersionRead,
    SnapshotAddressWithheld,
    SnapshotBasic,
    SnapshotProtected,
    Visibility,
)
from app.persons.service import PersonAccess

SHOWN_FIELDS: dict[Visibility, frozenset[str]] = {
    Visibility.BASIC: BASIC_FIELDS | {"non_disclosure"},
    Visibility.ADDRESS_WITHHELD: BASIC_FIELDS
    | {"non_disclosure", "identity_code", "phones", "safe_contact"},
    Visibility.PROTECTED: BASIC_FIELDS
    | {"non_disclosure", "identity_code", "phones", "safe_contact", "address"},
}
SNAPSHOT_MODELS: dict[
    Visibility, type[SnapshotBasic | SnapshotAddressWithheld | SnapshotProtected]
] = {
    Visibility.BASIC: SnapshotBasic,
    Visibility.ADDRESS_WITHHELD: SnapshotAddressWithheld,
    Visibility.PROTECTED: SnapshotProtected,
}


async def person_history(
    session: AsyncSession, keyring: KeyRing, access: PersonAccess
) -> PersonHistory:
    person, principal = access.person, access.principal
    rows = (
        await session.scalars(
            select(PersonVersion)
            .where(PersonVersion.person_id == person.id)
            .order_by(PersonVersion.version)
        )
    ).all()
    hidden_now = open_protected(keyring, person).non_disclosure
    versions = []
    for row in rows:
        state = keyring.open_json(row.snapshot_enc, FieldContext.of(row, "snapshot_enc"))
        non_disclosed = hidden_now or bool(state.get("non_disclosure"))
        seen = visibility(principal, access.reach, non_disclosed)
        shown = SHOWN_FIELDS[seen]
        model = SNAPSHOT_MODELS[seen]
        snapshot = model.model_validate({k: v for k, v in state.items() if k in shown})
        versions.append(
            PersonVersionRead(
                version=row.version,
                author_id=row.author_id,
                author_name=row.author_name,
                author_organisation_id=row.author_organisation_id,
                reason=row.reason,
                changed_fields=[f for f in row.changed_fields if f in shown],
                created_at=row.created_at,
                snapshot=snapshot,
            )
        )
    audit.record(
        session, principal, "person.history.read", "person", person.id, purpose=access.purpose
    )
    return PersonHistory(person_id=person.id, versions=versions)

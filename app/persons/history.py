"""A person's identity versions: every correction with its author, reason and case.

Only versions made through a case the caller can read are shown: the
author, organisation and reason of a correction made through another team's
case would tell the caller that that team works with the person. Versions
made outside any case (concern intake) are shown to nobody. A case's facts
have their own history (app/persons/facts.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.persons.models import PersonVersion
from app.persons.protected import visibility
from app.persons.schemas import (
    BASIC_FIELDS,
    PersonHistory,
    PersonVersionRead,
    SnapshotBasic,
    SnapshotIdentity,
    Visibility,
)
from app.persons.service import PersonAccess
from app.platform.crypto import KeyRing

SHOWN_BASIC = BASIC_FIELDS | {"non_disclosure"}
SHOWN_IDENTITY = SHOWN_BASIC | {"identity_code"}


async def person_history(
    session: AsyncSession, keyring: KeyRing, access: PersonAccess
) -> PersonHistory:
    person, principal = access.person, access.principal
    rows = (
        await session.scalars(
            select(PersonVersion)
            .where(
                PersonVersion.person_id == person.id,
                PersonVersion.case_id.in_(sorted(access.reach.case_ids)),
            )
            .order_by(PersonVersion.version)
        )
    ).all()
    basic = visibility(principal, access.reach, False) == Visibility.BASIC
    shown = SHOWN_BASIC if basic else SHOWN_IDENTITY
    model: type[SnapshotBasic | SnapshotIdentity] = SnapshotBasic if basic else SnapshotIdentity
    versions = []
    for row in rows:
        # Versions from before migration 0010 may still hold facts: never shown here.
        snapshot = model.model_validate(row.shown_snapshot(keyring, shown))
        read = PersonVersionRead(
            **row.authored(keyring, shown), case_id=row.case_id, snapshot=snapshot
        )
        versions.append(read)
    audit.record(
        session, principal, Action.PERSON_HISTORY_READ, "person", person.id, purpose=access.purpose
    )
    return PersonHistory(person_id=person.id, versions=versions)

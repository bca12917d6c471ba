"""Person search, and the match handles that keep it from revealing other cases.

A search returns only people in cases the caller can read (the router hands
in that set). Someone recorded only elsewhere comes back as at most one
opaque *match handle*: sealed to the caller (their user id is the associated
data), expiring within the hour, and good for one thing only, attaching that
person to a case of the caller's (POST /api/v1/persons). It carries no name,
no case and no id in the clear, so the caller learns only that a record exists.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.persons import identity
from app.persons.models import Person
from app.persons.schemas import MatchHandle
from app.platform.crypto import DecryptionError, FieldContext, KeyRing, Sealed
from app.platform.db import utcnow
from app.platform.problems import Unprocessable, field_error

MATCH_HANDLE_TTL = timedelta(hours=1)
HANDLE_CONTEXT_TABLE = "person_match_handles"


def issue_match_handle(keyring: KeyRing, principal: Principal, person_id: uuid.UUID) -> MatchHandle:
    """An opaque, expiring reference to a person, usable only by this caller."""
    expires = utcnow() + MATCH_HANDLE_TTL
    ctx = FieldContext(HANDLE_CONTEXT_TABLE, principal.user_id, "person_id")
    payload = {"p": str(person_id), "e": expires.isoformat()}
    return MatchHandle(handle=keyring.seal_json(payload, ctx).token, expires_at=expires)


async def redeem_match_handle(
    session: AsyncSession, keyring: KeyRing, principal: Principal, handle: str
) -> Person:
    def invalid() -> Unprocessable:
        return field_error(
            "match_handle",
            "The match handle is not valid or has expired; search again.",
        )

    ctx = FieldContext(HANDLE_CONTEXT_TABLE, principal.user_id, "person_id")
    try:
        payload = keyring.open_json(Sealed(handle), ctx)
        person_id = uuid.UUID(payload["p"])
        expires = datetime.fromisoformat(payload["e"])
    except (DecryptionError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise invalid() from exc
    if expires < utcnow():
        raise invalid()
    person = await session.get(Person, person_id)
    if person is None:
        raise invalid()
    return person


def _criteria(
    keyring: KeyRing, identity_code: str | None, names: tuple[str, str, Any] | None
) -> list[Any]:
    if identity_code is not None:
        return [Person.identity_code_index == identity.blind_index(keyring, identity_code)]
    assert names is not None
    given, family, born = names
    return [
        func.lower(Person.given_name) == given.lower(),
        func.lower(Person.family_name) == family.lower(),
        Person.birth_date == born,
    ]


async def search(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    visible_ids: Select[uuid.UUID],
    identity_code: str | None,
    names: tuple[str, str, Any] | None,
    limit: int = 20,
) -> tuple[list[Person], MatchHandle | None, bool]:
    """Visible matches; else at most a handle for the one match outside them.

    The search terms never reach the audit log: only the people returned
    (each as a ``person.search.matched`` row) or that a handle was issued.
    """
    criteria = _criteria(keyring, identity_code, names)
    found = list(
        (
            await session.scalars(
                select(Person)
                .where(*criteria, Person.id.in_(visible_ids))
                .order_by(Person.family_name, Person.given_name, Person.id)
                .limit(limit)
            )
        ).all()
    )
    for person in found:
        audit.record(
            session, principal, "person.search.matched", "person", person.id, purpose="case work"
        )
    handle, ambiguous = None, False
    if not found:
        others = list(
            (
                await session.scalars(
                    select(Person.id).where(*criteria, Person.id.not_in(visible_ids)).limit(2)
                )
            ).all()
        )
        if len(others) == 1:
            handle = issue_match_handle(keyring, principal, others[0])
            audit.record(
                session,
                principal,
                "person.match_handle.issued",
                "person",
                others[0],
                purpose="avoid a duplicate record",
            )
        ambiguous = len(others) > 1
    audit.record(session, principal, "person.searched", "person", None)
    return found, handle, ambiguous

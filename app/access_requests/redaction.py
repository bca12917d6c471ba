"""Keeping other people out of a person's export: their names and identity codes.

Everyone else recorded around the person (the other participants of their
cases, people on those cases' must-not-receive lists, guardians named in their
consents) is known by name and identity code; :class:`Scrubber` replaces those
in free text written by professionals. A name the service never recorded
cannot be recognised, which is why a second person approves the request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import CaseExclusion, CaseParticipant
from app.persons.models import Consent, Person
from app.persons.protected import open_protected
from app.platform.crypto import KeyRing

#: Safe-contact fields that name other people.
THIRD_PARTY_SAFE_CONTACT = ("feared_persons", "safe_to_talk_to", "not_safe_to_talk_to")
REDACTED = "[another person]"


class Scrubber:
    """Replaces other people's names and identity codes in free text."""

    def __init__(self, tokens: Iterable[str]) -> None:
        words = sorted({t.strip() for t in tokens if t and len(t.strip()) >= 2}, key=len)
        alternatives = "|".join(re.escape(w) for w in reversed(words))
        self.pattern = (
            re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if words else None
        )

    def text(self, value: str | None) -> str | None:
        if value is None or self.pattern is None:
            return value
        return self.pattern.sub(REDACTED, value)

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


async def other_people(
    session: AsyncSession, keyring: KeyRing, person_id: uuid.UUID, case_ids: list[uuid.UUID]
) -> list[str]:
    """Names and identity codes of everyone else recorded around the person."""
    ids: set[uuid.UUID] = set()
    if case_ids:
        ids |= set(
            (
                await session.scalars(
                    select(CaseParticipant.person_id).where(CaseParticipant.case_id.in_(case_ids))
                )
            ).all()
        )
        ids |= {
            p
            for p in (
                await session.scalars(
                    select(CaseExclusion.person_id).where(CaseExclusion.case_id.in_(case_ids))
                )
            ).all()
            if p is not None
        }
    ids |= {
        g
        for g in (
            await session.scalars(
                select(Consent.guardian_person_id).where(Consent.person_id == person_id)
            )
        ).all()
        if g is not None
    }
    ids.discard(person_id)
    tokens: list[str] = []
    for other in (await session.scalars(select(Person).where(Person.id.in_(ids)))).all():
        tokens += [other.given_name, other.family_name, f"{other.given_name} {other.family_name}"]
        code = open_protected(keyring, other).identity_code
        if code:
            tokens.append(code)
    return tokens

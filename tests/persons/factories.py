"""Helpers that arrange people, consents and concerns through the HTTP API."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import CaseParticipant
from app.persons.identity import make_code
from app.persons.models import Consent
from app.platform.db import utcnow
from tests.world import Actor

_serial = iter(range(2, 900))
#: person id -> the case record_person last recorded them into (give_consent's default).
_case_of: dict[str, str] = {}


def new_code(birth: date = date(1988, 4, 12), sign: str | None = None) -> str:
    """A valid identity code nobody else in the run has (the 900 test series is
    kept for the demo, so these use 002-899 with an unlikely birth date)."""
    return make_code(birth, next(_serial), sign)


def person_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"given_name": "Vilja", "family_name": "Virtanen"}
    body.update(overrides)
    return body


async def record_person(
    client: httpx.AsyncClient,
    actor: Actor,
    case_id: str,
    role: str = "victim",
    **person: Any,
) -> dict[str, Any]:
    """POST /api/v1/persons; returns the created body (with ``etag``)."""
    r = await client.post(
        "/api/v1/persons",
        json={"case_id": case_id, "role": role, "person": person_body(**person)},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    _case_of[str(r.json()["person"]["id"])] = case_id
    return dict(r.json()) | {"etag": r.headers["etag"]}


CONSENT = {"basis": "consent", "scope": "marak_sharing", "given_by": "person", "method": "written"}


async def give_consent(
    client: httpx.AsyncClient,
    actor: Actor,
    person_id: str,
    case_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A basis given for ``case_id`` (default: the case the person was recorded into)."""
    case = str(case_id or _case_of[str(person_id)])
    r = await client.post(
        f"/api/v1/persons/{person_id}/consents",
        json={**CONSENT, "case_id": case, **overrides},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def consenting_victim(
    client: httpx.AsyncClient, actor: Actor, case_id: str, **person: Any
) -> str:
    """A victim in the case who consented to Marak sharing; returns the person id."""
    created = await record_person(client, actor, case_id, "victim", **person)
    person_id = str(created["person"]["id"])
    await give_consent(client, actor, person_id)
    return person_id


async def add_consent(
    db: AsyncSession,
    person_id: uuid.UUID,
    by: Actor,
    scope: str = "marak_sharing",
    case_id: uuid.UUID | None = None,
) -> Consent:
    """A live consent row, arranged directly (for tests about something else), given
    for ``case_id`` (default: the person's first case)."""
    if case_id is None:
        case_id = await db.scalar(
            select(CaseParticipant.case_id)
            .where(CaseParticipant.person_id == person_id)
            .order_by(CaseParticipant.created_at)
            .limit(1)
        )
    assert case_id is not None, "the person takes part in no case"
    consent = Consent(
        person_id=person_id,
        case_id=case_id,
        basis="consent",
        scope=scope,
        given_by="person",
        method="written",
        obtained_at=utcnow(),
        obtained_by=by.id,
        obtained_by_organisation_id=by.org_id,
    )
    db.add(consent)
    await db.flush()
    return consent

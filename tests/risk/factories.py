"""Arranging risk data: assessments through the API, history directly in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseParticipant, CaseTransition
from app.persons.models import Person
from app.platform.clock import clock
from app.risk.instruments import default_registry
from app.risk.models import Assessment, Incident
from tests.cases.factories import add_participant, add_person
from tests.risk.answers import marak
from tests.world import Actor

ASSESSMENTS = "/api/v1/cases/{}/assessments"
REASONS = "Escalating control and threats; the victim minimises what happens."


async def assess(
    client: httpx.AsyncClient,
    actor: Actor,
    case_id: object,
    payload: dict[str, Any],
    *,
    submit: bool = True,
    status: int = 201,
) -> dict[str, Any]:
    """POST an assessment (submitted unless ``submit=False``) and check the status."""
    r = await client.post(
        ASSESSMENTS.format(case_id), json={**payload, "submit": submit}, headers=actor.headers
    )
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


async def add_incident(
    db: AsyncSession, case: Case, by: Actor, occurred_on: date, *, police: bool = True
) -> Incident:
    incident = Incident(
        case_id=case.id,
        occurred_on=occurred_on,
        source="police" if police else "victim",
        police_reported=police,
        recorded_by=by.id,
        recorded_by_organisation_id=by.org_id,
    )
    db.add(incident)
    await db.flush()
    return incident


async def add_referral(db: AsyncSession, case: Case, by: Actor, on: date) -> CaseTransition:
    """A transition to ``referred`` at noon (Helsinki date ``on``), as the lifecycle writes it."""
    transition = CaseTransition(
        case_id=case.id,
        from_status="identified",
        to_status="referred",
        actor_id=by.id,
        occurred_at=datetime.combine(on, time(10, 0), UTC),
        consent_given=True,
        victim_aware=True,
        gates=[],
    )
    db.add(transition)
    await db.flush()
    return transition


async def add_pair(
    db: AsyncSession, case: Case, by: Actor, victim: Person, perpetrator: Person
) -> tuple[CaseParticipant, CaseParticipant]:
    return (
        await add_participant(db, case, by, "victim", victim),
        await add_participant(db, case, by, "perpetrator", perpetrator),
    )


async def new_pair(db: AsyncSession, by: Actor) -> tuple[Person, Person]:
    return await add_person(db, by, "Vilja", "Uhri"), await add_person(db, by, "Veikko", "Tekijä")


async def make_assessment(
    db: AsyncSession, case: Case, by: Actor, yes: int = 3, status: str = "draft"
) -> Assessment:
    """A complete marak-ric@1 answer set stored as a draft (for probes that submit it)."""
    payload = marak(yes)
    entry = default_registry().get("marak-ric", 1)
    assessment = Assessment(
        case_id=case.id,
        instrument_code="marak-ric",
        instrument_version=1,
        instrument_hash=entry.content_hash,
        scheme="marak",
        status=status,
        answers=payload["answers"],
        judgement={},
        score=yes,
        assessor_id=by.id,
        assessor_name=f"Test {by.sub}",
        assessor_organisation_id=by.org_id,
    )
    db.add(assessment)
    await db.flush()
    return assessment


async def case_version(client: httpx.AsyncClient, actor: Actor, case_id: object) -> int:
    r = await client.get(f"/api/v1/cases/{case_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    version: int = r.json()["version"]
    return version


async def move(
    client: httpx.AsyncClient, actor: Actor, case_id: object, **body: Any
) -> httpx.Response:
    """A transition with the case's current ETag."""
    version = await case_version(client, actor, case_id)
    return await client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json=body,
        headers={**actor.headers, "If-Match": f'"{version}"'},
    )


async def refer(client: httpx.AsyncClient, actor: Actor, case_id: object) -> httpx.Response:
    """Ask to move a Marak case to ``referred`` (the victim's recorded consent is arranged
    separately; the statement on the transition is documentation only)."""
    consent = {"victim_aware": True, "consent_given": True}
    return await move(client, actor, case_id, to="referred", consent=consent)


# --- bodies the security matrix sends (tests/security/test_case_matrix.py) ----------------

DRAFT = {"instrument_code": "marak-ric", "instrument_version": 1}


def incident_body(_fixture: object = None) -> dict[str, Any]:
    return {"occurred_on": clock.today().isoformat(), "source": "police", "police_reported": True}


def external_body(_fixture: object = None) -> dict[str, Any]:
    return {
        "tool": "wavr-21",
        "assessed_on": clock.today().isoformat(),
        "assessor": "Threat assessment unit",
        "summary_rating": "low",
        "reference": "TA-1",
    }

"""Every create under an Idempotency-Key replays through its re-read (create_once).

Each route's replay must render what its first request created, with the same id,
``Idempotent-Replayed: true`` and no second create; a route whose re-read is
broken would answer a replay with an error. (Cases, notes, participants,
members, persons, plans, referrals and assessments are replayed in their own
test files and in test_idempotent_replay.py; instrument publishing needs a
full instrument definition and is not replayed here.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.clock import clock
from tests.cases.factories import make_case
from tests.persons.factories import CONSENT
from tests.plans.factories import MarakCase, api_plan, marak_case
from tests.world import Actor, TokenFactory, World, make_org, make_user

API = "/api/v1"
Arrange = Callable[
    [httpx.AsyncClient, AsyncSession, World, MarakCase],
    Awaitable[tuple[Actor, str, dict[str, Any]]],
]


async def _meeting(c: httpx.AsyncClient, world: World) -> dict[str, Any]:
    r = await c.post(
        f"{API}/meetings",
        json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
        headers=world.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def meetings(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    body = {"team_id": str(w.marak.id), "scheduled_at": "2030-02-15T09:00:00Z"}
    return w.coordinator, f"{API}/meetings", body


async def minutes(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    m = await marak_case(db, w, status="monitoring")  # may go on an agenda
    meeting = await _meeting(c, w)
    agenda = await c.post(
        f"{API}/meetings/{meeting['id']}/agenda",
        json={"case_id": str(m.case.id)},
        headers=w.coordinator.headers,
    )
    assert agenda.status_code == 201, agenda.text
    body = {
        "case_id": str(m.case.id),
        "kind": "shared",
        "information_kind": "fact",
        "text": "Two call-outs in May.",
    }
    return w.police, f"{API}/meetings/{meeting['id']}/minutes", body


async def measures(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    await api_plan(c, w.police, m.case.id, summary="Safety first.")
    body = {
        "category": "shelter",
        "description": "Reserve a shelter place.",
        "responsible_organisation_id": str(w.social.id),
    }
    return w.police, f"{API}/cases/{m.case.id}/plan/measures", body


async def exclusions(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    org = await make_org(db, "ngo")
    await db.commit()
    body = {"organisation_id": str(org.id), "reason": "Employs the perpetrator."}
    return w.police, f"{API}/cases/{m.case.id}/must-not-receive", body


async def emergency(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    body = {"reason": "Threat to life reported tonight; need the safety plan."}
    return w.outsider_police, f"{API}/cases/{m.case.id}/emergency-access", body


async def incidents(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    day = clock.today() - timedelta(days=3)
    body = {"occurred_on": day.isoformat(), "source": "police", "police_reported": True}
    return w.police, f"{API}/cases/{m.case.id}/incidents", body


async def external(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    made = await make_case(db, w.hah, w.police, status="assessment")
    await db.commit()
    body = {
        "tool": "hcr-20-v3",
        "assessed_on": (clock.today() - timedelta(days=20)).isoformat(),
        "assessor": "Forensic psychiatry outpatient clinic (demo)",
        "summary_rating": "moderate",
        "reference": "FPO-2026-114",
    }
    return w.police, f"{API}/cases/{made.id}/external-assessments", body


async def consents(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    return w.police, f"{API}/persons/{m.victim.id}/consents", {**CONSENT, "case_id": str(m.case.id)}


async def concerns(c: httpx.AsyncClient, db: AsyncSession, w: World, m: MarakCase) -> Any:
    body = {
        "team_id": str(w.hah.id),
        "subject": {"given_name": "Henri", "family_name": "Huoli", "birth_date": "1995-01-09"},
        "description": "Threats heard through the wall last night.",
        "legal_basis": "threat_to_life_or_health_notification",
        "urgency": "urgent",
    }
    return w.health, f"{API}/concerns", body


ROUTES: list[Arrange] = [
    meetings,
    minutes,
    measures,
    exclusions,
    emergency,
    incidents,
    external,
    consents,
    concerns,
]


async def _replays(client: httpx.AsyncClient, actor: Actor, url: str, body: Any, key: str) -> None:
    headers = {**actor.headers, "Idempotency-Key": key}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    if "location" in first.headers:
        assert again.headers["location"] == first.headers["location"]


@pytest.mark.parametrize("arrange", ROUTES, ids=lambda f: f.__name__)
async def test_the_replay_is_the_created_thing_and_creates_nothing(
    arrange: Arrange,
    client: httpx.AsyncClient,
    db: AsyncSession,
    world: World,
    marak: MarakCase,
) -> None:
    actor, url, body = await arrange(client, db, world, marak)
    await _replays(client, actor, url, body, f"matrix-{arrange.__name__}")


DIRECTORY: dict[str, Callable[[World, str], tuple[str, dict[str, Any]]]] = {
    "organisations": lambda w, _: (
        f"{API}/organisations",
        {"code": "ngo-idem", "name": "Replay NGO", "kind": "ngo"},
    ),
    "teams": lambda w, _: (
        f"{API}/teams",
        {"name": "Replay team", "kind": "marak", "organisation_id": str(w.org.id), "area": "Oulu"},
    ),
    "team_members": lambda w, user: (
        f"{API}/teams/{w.marak.id}/members",
        {"user_id": user, "team_role": "member"},
    ),
    "services": lambda w, _: (
        f"{API}/services",
        {
            "provider_organisation_id": str(w.social.id),
            "service_type": "victim_support",
            "name": "Replay support line",
            "areas": ["Oulu"],
            "languages": ["fi"],
        },
    ),
}


@pytest.mark.parametrize("resource", sorted(DIRECTORY))
async def test_directory_creates_replay_too(
    resource: str, client: httpx.AsyncClient, db: AsyncSession, world: World, tokens: TokenFactory
) -> None:
    admin = await make_user(db, tokens, world.org, "admin")
    newcomer = await make_user(db, tokens, world.org, "police")
    await db.commit()
    url, body = DIRECTORY[resource](world, str(newcomer.id))
    await _replays(client, admin, url, body, f"directory-{resource}")

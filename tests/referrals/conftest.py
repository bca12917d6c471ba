"""A Marak case ready for referrals: referrers, two provider organisations, a service.

- the case (police lead, social worker member, support person) has a victim and
  a perpetrator as participants; the perpetrator is on the must-not-receive list;
- the victim consented to service referral (scope ``service_referral``);
- ``service`` belongs to ``provider_org`` (a provider user ``provider``), and
  ``other_provider`` works for another service provider organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseExclusion
from app.directory.models import Organisation
from app.persons.models import Consent, Person
from app.referrals.models import ServiceEntry
from tests.cases.factories import add_member, add_participant, add_person, make_case
from tests.persons.factories import add_consent
from tests.world import Actor, TokenFactory, World, build_world, make_org, make_user, short

API = "/api/v1"


@dataclass
class ReferralWorld:
    world: World
    case: Case
    victim: Person
    perpetrator: Person
    consent: Consent
    provider_org: Organisation
    service: ServiceEntry
    provider: Actor
    other_org: Organisation
    other_service: ServiceEntry
    other_provider: Actor

    @property
    def lead(self) -> Actor:
        return self.world.police

    @property
    def member(self) -> Actor:
        return self.world.social_worker


async def add_service(
    db: AsyncSession, org: Organisation, *, target_days: int | None = 14, **fields: Any
) -> ServiceEntry:
    entry = ServiceEntry(
        provider_organisation_id=org.id,
        service_type=fields.pop("service_type", "perpetrator_programme"),
        name=fields.pop("name", f"Programme {short()}"),
        areas=["Helsinki"],
        languages=["fi"],
        accepts_electronic_referrals=fields.pop("accepts_electronic_referrals", True),
        response_time_target_days=target_days,
        **fields,
    )
    db.add(entry)
    await db.flush()
    return entry


async def build_referral_world(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    world = await build_world(db, tokens)
    case = await make_case(db, world.marak, world.police, status="plan_active")
    for actor in (world.social_worker, world.advocate):
        await add_member(db, case, actor)
    victim = await add_person(db, world.police, "Aino", "Äyräpää")
    victim.preferred_language = "fi"
    await add_participant(db, case, world.police, "victim", victim)
    perpetrator = await add_person(db, world.police, "Pertti", "Pahanen")
    await add_participant(db, case, world.police, "perpetrator", perpetrator)
    db.add(
        CaseExclusion(
            case_id=case.id,
            person_id=perpetrator.id,
            reason_plain="The perpetrator.",
            added_by=world.police.id,
        )
    )
    consent = await add_consent(db, victim.id, world.police, scope="service_referral")
    provider_org = await make_org(db, "ngo")
    service = await add_service(db, provider_org, service_type="victim_support")
    provider = await make_user(db, tokens, provider_org, "service_provider")
    other_org = await make_org(db, "ngo")
    other_service = await add_service(db, other_org)
    other_provider = await make_user(db, tokens, other_org, "service_provider")
    await db.commit()
    return ReferralWorld(
        world,
        case,
        victim,
        perpetrator,
        consent,
        provider_org,
        service,
        provider,
        other_org,
        other_service,
        other_provider,
    )


@pytest.fixture
async def rw(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    return await build_referral_world(db, tokens)


def referral_body(rw: ReferralWorld, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_person_id": str(rw.victim.id),
        "service_id": str(rw.service.id),
        "reason": "Needs support after the assault in May; agreed in the meeting.",
        "urgency": "urgent",
        "shared_fields": ["name", "language"],
        "note_to_provider": "Call on weekdays before noon.",
        "basis_id": str(rw.consent.id),
    }
    body.update(overrides)
    return body


async def create(
    client: httpx.AsyncClient, rw: ReferralWorld, actor: Actor | None = None, **overrides: Any
) -> dict[str, Any]:
    actor = actor or rw.lead
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json=referral_body(rw, **overrides),
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def move(
    client: httpx.AsyncClient, actor: Actor, referral: dict[str, Any], to: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/referrals/{referral['id']}/transitions",
        json={"to": to, **extra},
        headers={**actor.headers, "If-Match": f'"{referral["version"]}"'},
    )


async def moved(
    client: httpx.AsyncClient, actor: Actor, referral: dict[str, Any], to: str, **extra: Any
) -> dict[str, Any]:
    r = await move(client, actor, referral, to, **extra)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == to
    return dict(r.json())


async def sent(client: httpx.AsyncClient, rw: ReferralWorld, **overrides: Any) -> dict[str, Any]:
    """A referral created and sent by the lead (status requested)."""
    return await moved(client, rw.lead, await create(client, rw, **overrides), "requested")


async def case_referrals(client: httpx.AsyncClient, rw: ReferralWorld) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/cases/{rw.case.id}/referrals", headers=rw.lead.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])

"""No personal data in any event: canary strings in every free-text and name field
of the changes that emit, then none in any outbox row or any feed response."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import OutboxEvent
from tests.events.helpers import API, feed_all, rows
from tests.referrals.conftest import ReferralWorld, build_referral_world, create, moved
from tests.world import TokenFactory, open_case, with_etag

CANARY = "Kanarialintu"


def canary(field: str) -> str:
    return f"{CANARY}{field}"


@pytest.fixture
async def rw(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    return await build_referral_world(db, tokens)


async def test_no_canary_reaches_an_event(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    world = rw.world
    case = await open_case(client, rw.lead, world.marak, summary=canary("summary"))
    r = await client.post(
        f"{API}/cases/{case['id']}/notes",
        json={"text": canary("note"), "kind": "fact"},
        headers=rw.lead.headers,
    )
    assert r.status_code == 201, r.text
    referral = await create(
        client,
        rw,
        reason=canary("referral reason"),
        note_to_provider=canary("note to provider"),
    )
    referral = await moved(client, rw.lead, referral, "requested")
    referral = await moved(client, rw.provider, referral, "received")
    await moved(
        client,
        rw.provider,
        referral,
        "rejected",
        reason_code="no_capacity",
        reason_text=canary("decline reason"),
    )
    grant = await client.post(
        f"{API}/cases/{case['id']}/emergency-access",
        json={"reason": canary("emergency reason, the night patrol needs it")},
        headers=world.outsider_police.headers,
    )
    assert grant.status_code == 201, grant.text
    concern = await client.post(
        f"{API}/concerns",
        json={
            "team_id": str(world.hah.id),
            "subject": {
                "given_name": canary("given"),
                "family_name": canary("family"),
                "birth_date": "1995-01-09",
            },
            "description": canary("description"),
            "legal_basis": "threat_to_life_or_health_notification",
            "urgency": "urgent",
        },
        headers=world.health.headers,
    )
    assert concern.status_code == 201, concern.text
    cid = concern.json()["id"]
    current = await client.get(f"{API}/concerns/{cid}", headers=world.hah_police.headers)
    r = await client.post(
        f"{API}/concerns/{cid}/screening",
        json={"decision": "dismiss", "reason": canary("dismissal")},
        headers=with_etag(world.hah_police, current.headers["etag"]),
    )
    assert r.status_code == 200, r.text

    events = await rows(db)
    types = {e.type for e in events}
    assert {
        "case.created",
        "referral.requested",
        "referral.transitioned",
        "emergency_access.granted",
        "concern.received",
        "concern.screened",
    } <= types
    for event in events:
        for column in OutboxEvent.__table__.columns.keys():
            assert CANARY not in str(getattr(event, column)), (event.type, column)
    for reader in (rw.lead, rw.provider, world.hah_police, world.outsider_police):
        items, _ = await feed_all(client, reader)
        assert items and CANARY not in str(items)

"""The event feed: each caller sees only the events on objects they may see now."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from app.cases.models import CaseExclusion
from tests.cases.factories import add_member
from tests.events.helpers import API, feed_all, integration_client
from tests.problems import assert_problem
from tests.referrals.conftest import ReferralWorld, build_referral_world, moved, sent
from tests.world import Actor, TokenFactory, allowed, denied, make_org, make_user, open_case


@pytest.fixture
async def rw(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    return await build_referral_world(db, tokens)


@pytest.fixture
async def busy(client: httpx.AsyncClient, rw: ReferralWorld) -> dict[str, Any]:
    """The referral case's work: a referral sent and accepted, a second case in the
    HAH team, a member added. Returns the ids involved."""
    referral = await sent(client, rw)
    await moved(client, rw.provider, referral, "received")
    hah = await open_case(client, rw.world.hah_police, rw.world.hah)
    r = await client.post(
        f"{API}/cases/{rw.case.id}/members",
        json={"user_id": str(rw.world.health.id)},
        headers=rw.lead.headers,
    )
    assert r.status_code == 201, r.text
    return {"referral": referral["id"], "case": str(rw.case.id), "hah": hah["id"]}


def ids(items: list[dict[str, Any]], key: str) -> set[str]:
    return {i[key] for i in items if i[key] is not None}


async def stranger(db: AsyncSession, tokens: TokenFactory, role: str) -> Actor:
    """A user of ``role`` in an organisation of its own: no team, case or referral."""
    org = await make_org(db, "other")
    if role == "integration":
        return await integration_client(db, tokens, org, "events:read referrals:read")
    actor = await make_user(db, tokens, org, role)
    await db.commit()
    return actor


@pytest.mark.parametrize("role", allowed(Action.EVENTS_READ))
async def test_a_stranger_of_any_role_sees_no_events(
    client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    busy: dict[str, Any],
    role: str,
) -> None:
    items, cursor = await feed_all(client, await stranger(db, tokens, role))
    assert items == [] and cursor


@pytest.mark.parametrize("role", denied(Action.EVENTS_READ))
async def test_roles_without_the_feed_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, role: str
) -> None:
    actor = await stranger(db, tokens, role)
    r = await client.get(f"{API}/events", headers=actor.headers)
    assert_problem(r, 403)


async def test_members_see_their_cases_events_and_no_others(
    client: httpx.AsyncClient, rw: ReferralWorld, busy: dict[str, Any]
) -> None:
    lead, _ = await feed_all(client, rw.lead)
    assert ids(lead, "case_id") == {busy["case"]}
    assert [i["type"] for i in lead] == [
        "referral.requested",
        "referral.transitioned",
        "case.member_added",
    ]
    # Police in the HAH team, not on the Marak case: only their own case.
    hah, _ = await feed_all(client, rw.world.hah_police)
    assert ids(hah, "case_id") == {busy["hah"]}
    assert [i["type"] for i in hah] == ["case.created"]
    outsider, _ = await feed_all(client, rw.world.outsider_police)
    assert outsider == []


async def test_a_provider_sees_only_its_own_referrals(
    client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    rw: ReferralWorld,
    busy: dict[str, Any],
) -> None:
    mine, _ = await feed_all(client, rw.provider)
    assert [i["type"] for i in mine] == ["referral.requested", "referral.transitioned"]
    assert ids(mine, "target_id") == {busy["referral"]}
    # The case is not named to a provider: its referral view has no case either.
    assert ids(mine, "case_id") == set()
    theirs, _ = await feed_all(client, rw.other_provider)
    assert theirs == []
    system = await integration_client(db, tokens, rw.provider_org, "events:read referrals:read")
    via_system, _ = await feed_all(client, system)
    assert ids(via_system, "target_id") == {busy["referral"]}


async def test_must_not_receive_stops_the_events_at_once(
    client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    rw: ReferralWorld,
    busy: dict[str, Any],
) -> None:
    youth_org = await make_org(db, "youth_services")
    youth = await make_user(db, tokens, youth_org, "youth_worker")
    await add_member(db, rw.case, youth)
    await db.commit()
    before, _ = await feed_all(client, youth)
    assert ids(before, "case_id") == {busy["case"]}
    db.add(
        CaseExclusion(
            case_id=rw.case.id,
            organisation_id=youth_org.id,
            reason_plain="The family asked.",
            added_by=rw.lead.id,
        )
    )
    # The provider's organisation excluded too: its referral's events go with it.
    db.add(
        CaseExclusion(
            case_id=rw.case.id,
            organisation_id=rw.provider_org.id,
            reason_plain="The family asked.",
            added_by=rw.lead.id,
        )
    )
    await db.commit()
    after, _ = await feed_all(client, youth)
    assert after == []
    provider, _ = await feed_all(client, rw.provider)
    assert provider == []


async def test_concern_events_go_to_the_receiving_team(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    world = rw.world
    body = {
        "team_id": str(world.hah.id),
        "subject": {"given_name": "Henri", "family_name": "Huoli", "birth_date": "1995-01-09"},
        "description": "Threatening messages about the old workplace.",
        "legal_basis": "threat_to_life_or_health_notification",
        "urgency": "urgent",
    }
    r = await client.post(f"{API}/concerns", json=body, headers=world.health.headers)
    assert r.status_code == 201, r.text
    team, _ = await feed_all(client, world.hah_police)
    assert [(i["type"], i["target_id"]) for i in team] == [("concern.received", r.json()["id"])]
    submitter, _ = await feed_all(client, world.health)
    assert "concern.received" not in {i["type"] for i in submitter}


async def test_paging_is_stable_and_complete_and_the_cursor_polls(
    client: httpx.AsyncClient, rw: ReferralWorld, busy: dict[str, Any]
) -> None:
    for _ in range(3):
        await open_case(client, rw.lead, rw.world.marak)
    whole, end = await feed_all(client, rw.lead)
    assert len(whole) == 6
    paged, end_paged = await feed_all(client, rw.lead, limit=2)
    assert paged == whole
    assert len({i["id"] for i in paged}) == len(paged)
    # At the end: an empty page, and a cursor to poll with.
    r = await client.get(f"{API}/events", params={"after": end}, headers=rw.lead.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": end, "has_more": False}
    new = await open_case(client, rw.lead, rw.world.marak)
    since, _ = await feed_all(client, rw.lead, after=end_paged)
    assert [(i["type"], i["case_id"]) for i in since] == [("case.created", new["id"])]


async def test_a_forged_cursor_is_refused(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await client.get(
        f"{API}/events", params={"after": "bm90LWEtY3Vyc29y"}, headers=rw.lead.headers
    )
    assert_problem(r, 422)


async def test_a_read_of_the_feed_is_audited_once(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, busy: dict[str, Any]
) -> None:
    r = await client.get(f"{API}/events", headers=rw.lead.headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 3
    found = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "event.listed", AuditEvent.actor_id == rw.lead.id
            )
        )
    ).all()
    assert len(found) == 1


async def test_an_integration_client_needs_the_scope(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> None:
    system = await integration_client(db, tokens, scopes="referrals:read events.read")
    assert_problem(await client.get(f"{API}/events", headers=system.headers), 403)

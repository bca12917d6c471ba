"""The outbox: an event is written in the transaction of its change, and holds ids only."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import service as case_service
from app.cases.models import Case
from app.events.models import OutboxEvent
from app.platform.problems import Conflict
from tests.events.helpers import API, feed_all, rows
from tests.plans.factories import agree, api_measure, api_plan, marak_case
from tests.plans.test_closure_gate import close
from tests.world import World, open_case, with_etag

#: Everything an event may hold. A new column is a review: never personal data.
COLUMNS = {
    "sequence",
    "id",
    "type",
    "occurred_at",
    "actor_organisation_id",
    "case_id",
    "target_type",
    "target_id",
}


def test_an_event_row_has_no_room_for_personal_data() -> None:
    assert set(OutboxEvent.__table__.columns.keys()) == COLUMNS


async def test_the_event_commits_with_its_change(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    case = await open_case(client, world.police, world.marak)
    [event] = await rows(db, case_id=case["id"])
    assert event.type == "case.created"
    assert (event.target_type, str(event.target_id)) == ("case", case["id"])
    assert event.actor_organisation_id == world.police.org_id


async def test_the_event_rolls_back_with_its_change(
    client: httpx.AsyncClient,
    db: AsyncSession,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure after the emit, in the same request: neither the case nor its event."""

    async def fail(*_args: object) -> None:
        raise Conflict("Injected failure after the event was emitted.")

    events_before = await db.scalar(select(func.count()).select_from(OutboxEvent))
    cases_before = await db.scalar(select(func.count()).select_from(Case))
    monkeypatch.setattr(case_service, "to_read", fail)
    r = await client.post(
        f"{API}/cases", json={"team_id": str(world.marak.id)}, headers=world.police.headers
    )
    assert r.status_code == 409, r.text
    assert await db.scalar(select(func.count()).select_from(Case)) == cases_before
    assert await db.scalar(select(func.count()).select_from(OutboxEvent)) == events_before


async def test_each_change_emits_its_event(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    case = await open_case(client, world.police, world.marak)
    r = await client.post(
        f"{API}/cases/{case['id']}/members",
        json={"user_id": str(world.health.id)},
        headers=world.police.headers,
    )
    assert r.status_code == 201, r.text
    member = r.json()
    r = await client.delete(
        f"{API}/cases/{case['id']}/members/{member['id']}",
        headers=with_etag(world.police, r.headers["etag"]),
    )
    assert r.status_code == 204, r.text
    grant = await client.post(
        f"{API}/cases/{case['id']}/emergency-access",
        json={"reason": "Acute threat reported by the night patrol, need the plan now."},
        headers=world.outsider_police.headers,
    )
    assert grant.status_code == 201, grant.text
    types = [e.type for e in await rows(db, case_id=case["id"])]
    assert types == [
        "case.created",
        "case.member_added",
        "case.member_removed",
        "emergency_access.granted",
    ]
    [granted] = await rows(db, case_id=case["id"], type="emergency_access.granted")
    assert granted.actor_organisation_id == world.outsider_police.org_id


async def test_plans_measures_meetings_and_closing_emit(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    mc = await marak_case(db, world, status="monitoring")
    cid = mc.case.id
    await api_plan(client, world.police, cid)
    measure = await api_measure(client, world.police, cid, world.org.id)
    r = await client.post(
        f"{API}/cases/{cid}/plan/measures/{measure['id']}/status",
        json={"status": "done", "outcome_note": "Placed."},
        headers={**world.police.headers, "If-Match": measure["etag"]},
    )
    assert r.status_code == 200, r.text
    assert (await agree(client, world.police, cid)).status_code == 200
    assert (await close(client, world.police, cid)).status_code == 200
    types = [e.type for e in await rows(db, case_id=cid)]
    assert types == ["measure.status_changed", "plan.agreed", "case.transitioned"]
    r = await client.post(
        f"{API}/meetings",
        json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
        headers=world.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    [scheduled] = await rows(db, target_id=r.json()["id"])
    assert (scheduled.type, scheduled.case_id) == ("meeting.scheduled", None)
    # The team's members see the meeting in their feed; others do not.
    member, _ = await feed_all(client, world.health)
    assert r.json()["id"] in {i["target_id"] for i in member}
    other, _ = await feed_all(client, world.hah_police)
    assert r.json()["id"] not in {i["target_id"] for i in other}

"""Emergency grants notify the case's team coordinators in /me/tasks (docs/DOMAIN.md)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import CaseExclusion
from app.platform.db import utcnow
from tests.cases.factories import add_grant
from tests.plans.factories import marak_case
from tests.world import World, join_team, make_team, make_user

KIND = "emergency_access_notice"


async def notices(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict]:
    r = await client.get("/api/v1/me/tasks", headers=headers)
    assert r.status_code == 200, r.text
    return [t for t in r.json() if t["kind"] == KIND]


async def test_the_teams_coordinator_is_told_and_sees_no_case_content(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    mc = await marak_case(db, world)
    grant = await add_grant(db, mc.case, world.outsider_police)
    await db.commit()
    found = await notices(client, world.coordinator.headers)
    assert [t["target_id"] for t in found] == [str(grant.id)]
    assert found[0]["target_type"] == "emergency_grant"
    assert found[0]["case_id"] == str(mc.case.id)
    assert found[0]["case_reference"] is None
    assert "police" in found[0]["title"]
    # Members who are not the team's coordinators, and the grant holder, get no notice.
    for actor in (world.police, world.social_worker, world.outsider_police):
        assert await notices(client, actor.headers) == []


async def test_a_coordinator_of_another_team_is_not_told(
    client: httpx.AsyncClient, db: AsyncSession, world: World, tokens: object
) -> None:
    mc = await marak_case(db, world)
    await add_grant(db, mc.case, world.outsider_police)
    other_team = await make_team(db, world.org, "marak")
    other = await make_user(
        db, tokens, world.org, "coordinator", teams=(other_team,), team_role="coordinator"
    )
    await db.commit()
    assert await notices(client, other.headers) == []


async def test_the_notice_ends_with_the_review_or_after_a_week(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    reviewed, old = await marak_case(db, world), await marak_case(db, world)
    first = await add_grant(db, reviewed.case, world.outsider_police)
    first.reviewed_at = utcnow()
    second = await add_grant(db, old.case, world.outsider_police)
    second.created_at = utcnow() - timedelta(days=8)
    await db.commit()
    ids = {t["target_id"] for t in await notices(client, world.coordinator.headers)}
    assert not ids & {str(first.id), str(second.id)}


async def test_never_on_a_case_the_coordinators_organisation_must_not_receive(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    mc = await marak_case(db, world)
    await add_grant(db, mc.case, world.outsider_police)
    db.add(
        CaseExclusion(
            case_id=mc.case.id,
            organisation_id=world.coordinator.org_id,
            reason_plain="Conflict of interest.",
            added_by=world.police.id,
        )
    )
    await db.commit()
    assert await notices(client, world.coordinator.headers) == []


async def test_a_coordinator_who_joins_the_team_later_is_told(
    client: httpx.AsyncClient, db: AsyncSession, world: World, tokens: object
) -> None:
    mc = await marak_case(db, world)
    grant = await add_grant(db, mc.case, world.outsider_police)
    late = await make_user(db, tokens, world.org, "coordinator")
    await join_team(db, world.marak, late, team_role="coordinator")
    await db.commit()
    assert [t["target_id"] for t in await notices(client, late.headers)] == [str(grant.id)]

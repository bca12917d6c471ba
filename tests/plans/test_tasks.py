"""GET /api/v1/me/tasks: what is due for me, most urgent first; never closed cases."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.db import utcnow
from tests.cases.factories import add_grant
from tests.plans.factories import ensure_plan, marak_case
from tests.world import World


async def tasks(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict]:
    r = await client.get("/api/v1/me/tasks", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


class TestMyTasks:
    async def test_most_urgent_first(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        today = utcnow().date()
        soon = await marak_case(db, world)
        late = await marak_case(db, world)
        review = await marak_case(db, world)
        _, due_soon = await ensure_plan(db, soon.case, world.police, due=today + timedelta(days=3))
        _, overdue = await ensure_plan(db, late.case, world.police, due=today - timedelta(days=5))
        review.case.next_review_at = utcnow() - timedelta(days=1)
        await db.commit()
        found = await tasks(client, world.police.headers)
        ids = [t["target_id"] for t in found]
        assert ids.index(str(overdue.id)) < ids.index(str(review.case.id))
        assert ids.index(str(review.case.id)) < ids.index(str(due_soon.id))
        kinds = {t["target_id"]: t["kind"] for t in found}
        assert kinds[str(overdue.id)] == "measure_overdue"
        assert kinds[str(due_soon.id)] == "measure_due"
        assert kinds[str(review.case.id)] == "case_review"

    async def test_only_my_organisations_measures(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world)
        _, measure = await ensure_plan(
            db, mc.case, world.police, due=utcnow().date(), organisation_id=world.org.id
        )
        await db.commit()
        assert str(measure.id) in {
            t["target_id"] for t in await tasks(client, world.police.headers)
        }
        other = {t["target_id"] for t in await tasks(client, world.social_worker.headers)}
        assert str(measure.id) not in other

    async def test_settled_measures_and_far_deadlines_are_not_tasks(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        done = await marak_case(db, world)
        far = await marak_case(db, world)
        _, m1 = await ensure_plan(db, done.case, world.police, due=utcnow().date(), status="done")
        _, m2 = await ensure_plan(
            db, far.case, world.police, due=utcnow().date() + timedelta(days=60)
        )
        await db.commit()
        ids = {t["target_id"] for t in await tasks(client, world.police.headers)}
        assert not ids & {str(m1.id), str(m2.id)}

    async def test_closed_cases_never_appear(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world, status="closed")
        _, measure = await ensure_plan(
            db, mc.case, world.police, due=utcnow().date() - timedelta(days=2)
        )
        mc.case.next_review_at = utcnow() - timedelta(days=1)
        grant = await add_grant(db, mc.case, world.outsider_police)
        await db.commit()
        ids = {t["target_id"] for t in await tasks(client, world.police.headers)}
        assert not ids & {str(measure.id), str(mc.case.id)}
        audited = {t["target_id"] for t in await tasks(client, world.auditor.headers)}
        assert str(grant.id) not in audited

    async def test_auditor_sees_grants_to_review_and_no_case_content(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mc = await marak_case(db, world)
        grant = await add_grant(db, mc.case, world.outsider_police)
        await db.commit()
        found = [
            t for t in await tasks(client, world.auditor.headers) if t["target_id"] == str(grant.id)
        ]
        assert found and found[0]["kind"] == "emergency_access_review"
        assert found[0]["case_reference"] is None
        police = {t["target_id"] for t in await tasks(client, world.police.headers)}
        assert str(grant.id) not in police

    async def test_admin_has_no_tasks_route(
        self, client: httpx.AsyncClient, make_actor: object
    ) -> None:
        admin = await make_actor("admin")  # type: ignore[operator]
        r = await client.get("/api/v1/me/tasks", headers=admin.headers)
        assert r.status_code == 403

"""HAH: priority -> risk level and review date, and the closure gate. Ankkuri: the referral gate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.config import Settings
from app.risk.config import RiskConfig, from_settings
from tests.cases.factories import make_case
from tests.problems import assert_problem
from tests.risk.answers import ankkuri, hah
from tests.risk.factories import assess, move
from tests.world import World

TODAY = date(2026, 3, 2)
DECISION = "Threat assessment group 3/2026: no longer a threat, no pathway behaviour."


async def read_case(client: httpx.AsyncClient, world: World, case_id: object) -> dict[str, object]:
    r = await client.get(f"/api/v1/cases/{case_id}", headers=world.police.headers)
    body: dict[str, object] = r.json()
    return body


class TestHahReview:
    @pytest.mark.parametrize(("priority", "days"), [("high", 14), ("moderate", 60), ("low", 180)])
    async def test_the_priority_sets_the_risk_level_and_the_next_review(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        freeze: Callable[[date], None],
        priority: str,
        days: int,
    ) -> None:
        freeze(TODAY)
        made = await make_case(db, world.hah, world.police, status="assessment")
        await db.commit()
        body = await assess(client, world.police, made.id, hah(priority=priority))
        review = TODAY + timedelta(days=days)
        assert body["next_review_on"] == review.isoformat()
        assert body["summary"]["review_interval_days"] == days
        case = await read_case(client, world, made.id)
        assert case["risk_level"] == priority
        assert case["next_review_at"] == f"{review.isoformat()}T00:00:00Z"

    async def test_the_intervals_come_from_the_settings(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        settings: Settings,
        freeze: Callable[[date], None],
        configure: Callable[[RiskConfig], None],
    ) -> None:
        freeze(TODAY)
        configure(from_settings(settings.model_copy(update={"hah_review_days_high": 7})))
        made = await make_case(db, world.hah, world.police, status="assessment")
        await db.commit()
        body = await assess(client, world.police, made.id, hah(priority="high"))
        assert body["next_review_on"] == (TODAY + timedelta(days=7)).isoformat()

    async def test_an_earlier_date_is_kept_and_a_past_one_refused(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        freeze: Callable[[date], None],
    ) -> None:
        freeze(TODAY)
        made = await make_case(db, world.hah, world.police, status="assessment")
        await db.commit()
        early = hah(priority="low", next_review_date="2026-03-20")
        assert (await assess(client, world.police, made.id, early))["next_review_on"] == (
            "2026-03-20"
        )
        past = hah(priority="low", next_review_date="2026-03-01")
        await assess(client, world.police, made.id, past, status=422)

    def test_the_defaults_are_14_60_and_180_days(self) -> None:
        days = from_settings(Settings()).hah.review_days
        assert {str(k): v for k, v in days.items()} == {"high": 14, "moderate": 60, "low": 180}


class TestHahClosure:
    async def close(
        self, client: httpx.AsyncClient, world: World, case_id: object, reason: str | None
    ) -> httpx.Response:
        body = {"to": "closed", "outcome": "no_longer_a_threat"}
        return await move(client, world.police, case_id, **body, reason=reason)

    async def test_closing_needs_a_latest_low_priority_assessment_and_a_decision(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.hah, world.police, status="monitoring")
        await db.commit()
        body = assert_problem(await self.close(client, world, made.id, DECISION), 422)
        assert [g["gate"] for g in body["gates"]] == ["hah_latest_assessment_low"]
        await assess(client, world.police, made.id, hah(priority="low"))
        await assess(client, world.police, made.id, hah(priority="moderate"))
        body = assert_problem(await self.close(client, world, made.id, DECISION), 422)
        assert "'moderate'" in body["gates"][0]["detail"]
        await assess(client, world.police, made.id, hah(priority="low"))
        body = assert_problem(await self.close(client, world, made.id, None), 422)
        assert [g["gate"] for g in body["gates"]] == ["hah_no_longer_a_threat_decision"]
        r = await self.close(client, world, made.id, DECISION)
        assert r.status_code == 200, r.text
        assert r.json()["closure_reason"] == DECISION

    async def test_a_draft_does_not_count(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.hah, world.police, status="monitoring")
        await db.commit()
        await assess(client, world.police, made.id, hah(priority="low"), submit=False)
        assert_problem(await self.close(client, world, made.id, DECISION), 422)


class TestAnkkuriServiceReferral:
    async def test_needs_a_completed_needs_assessment(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.ankkuri, world.police, status="anchor_meeting")
        await db.commit()
        body = assert_problem(await move(client, world.police, made.id, to="service_referral"), 422)
        assert body["gates"] == [
            {
                "gate": "ankkuri_needs_assessment_completed",
                "detail": "Complete the support-needs assessment before the service referral.",
            }
        ]
        draft = await assess(client, world.police, made.id, ankkuri(), submit=False)
        assert draft["status"] == "draft"
        assert_problem(await move(client, world.police, made.id, to="service_referral"), 422)
        done = await assess(client, world.police, made.id, ankkuri())
        assert done["risk_level"] is None
        assert done["summary"]["domains_by_concern"]["some_concern"]
        r = await move(client, world.police, made.id, to="service_referral")
        assert r.status_code == 200, r.text

    async def test_the_follow_up_route_is_gated_too(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.ankkuri, world.police, status="follow_up")
        await db.commit()
        assert_problem(await move(client, world.police, made.id, to="service_referral"), 422)

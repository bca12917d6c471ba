"""The Marak checklist through the API: score, the four criteria, the case's risk level."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.clock import clock
from app.risk.config import RiskConfig
from app.risk.scoring import MarakPolicy
from tests.cases.factories import make_case
from tests.problems import assert_problem
from tests.risk.answers import marak
from tests.risk.factories import ASSESSMENTS, REASONS, add_incident, assess
from tests.world import World, open_case


def met(body: dict[str, Any]) -> set[str]:
    return {c["criterion"] for c in body["criteria"] if c["met"]}


async def case_risk(client: httpx.AsyncClient, world: World, case_id: object) -> str | None:
    r = await client.get(f"/api/v1/cases/{case_id}", headers=world.police.headers)
    value: str | None = r.json()["risk_level"]
    return value


class TestVisibleHighRisk:
    async def test_the_server_scores_and_reports_all_four_criteria_with_reasons(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        body = await assess(client, world.police, case["id"], marak(14))
        assert body["status"] == "submitted"
        assert (body["score"], body["threshold"]) == (14, 14)
        assert [c["criterion"] for c in body["criteria"]] == [
            "visible_high_risk", "professional_judgement", "potential_escalation", "repeat",
        ]  # fmt: skip
        assert all(c["reason"] for c in body["criteria"])
        assert met(body) == {"visible_high_risk"}
        assert body["criteria"][0]["reason"] == "Score 14 is at or above the threshold 14."
        assert body["referral_criteria_met"] is True and body["risk_level"] == "high"
        assert await case_risk(client, world, case["id"]) == "high"

    async def test_13_yes_answers_are_below_the_threshold(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        body = await assess(client, world.police, case["id"], marak(13))
        assert body["score"] == 13 and met(body) == set()
        assert body["referral_criteria_met"] is False and body["risk_level"] is None
        assert await case_risk(client, world, case["id"]) is None

    async def test_a_reassessment_is_a_new_row_and_the_history_shows_the_change(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        first = await assess(client, world.police, case["id"], marak(16))
        second = await assess(client, world.police, case["id"], marak(4))
        assert first["id"] != second["id"]
        r = await client.get(ASSESSMENTS.format(case["id"]), headers=world.police.headers)
        history = [(a["score"], a["risk_level"]) for a in r.json()["items"]]
        assert history == [(16, "high"), (4, None)]
        assert await case_risk(client, world, case["id"]) is None


class TestProfessionalJudgement:
    async def test_judgement_with_written_reasons_refers_below_the_threshold(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        payload = marak(5, professional_judgement="refer_high_risk", judgement_reasons=REASONS)
        body = await assess(client, world.police, case["id"], payload)
        assert met(body) == {"professional_judgement"} and body["risk_level"] == "high"

    async def test_the_flag_without_reasons_is_422(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        r = await client.post(
            ASSESSMENTS.format(case["id"]),
            json={**marak(5, professional_judgement="refer_high_risk"), "submit": True},
            headers=world.police.headers,
        )
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "judgement.judgement_reasons"

    async def test_a_downgrade_of_a_visible_high_risk_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        payload = marak(15, professional_judgement="not_high_risk", judgement_reasons=REASONS)
        for submit in (True, False):
            r = await client.post(
                ASSESSMENTS.format(case["id"]),
                json={**payload, "submit": submit},
                headers=world.police.headers,
            )
            assert assert_problem(r, 422)["type"].endswith("/judgement-downgrade")
        r = await client.get(ASSESSMENTS.format(case["id"]), headers=world.police.headers)
        assert r.json()["items"] == []

    async def test_not_high_below_the_threshold_is_recorded(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        payload = marak(3, professional_judgement="not_high_risk", judgement_reasons=REASONS)
        body = await assess(client, world.police, case["id"], payload)
        assert body["criteria"][1]["reason"] == "Professional judgement: not high risk."


class TestPotentialEscalation:
    async def record(
        self, client: httpx.AsyncClient, world: World, case_id: object, days_ago: int, police: bool
    ) -> None:
        day = clock.today() - timedelta(days=days_ago)
        r = await client.post(
            f"/api/v1/cases/{case_id}/incidents",
            json={"occurred_on": day.isoformat(), "source": "police", "police_reported": police},
            headers=world.police.headers,
        )
        assert r.status_code == 201, r.text

    async def test_three_police_reported_incidents_in_12_months_meet_it(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        for days_ago in (10, 100, 300):
            await self.record(client, world, case["id"], days_ago, police=True)
        body = await assess(client, world.police, case["id"], marak(2))
        assert met(body) == {"potential_escalation"}
        assert body["criteria"][2]["facts"]["police_reported_incidents"] == 3

    async def test_incidents_police_did_not_handle_or_older_ones_do_not_count(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await self.record(client, world, case["id"], 10, police=True)
        await self.record(client, world, case["id"], 20, police=False)
        await self.record(client, world, case["id"], 400, police=True)
        body = await assess(client, world.police, case["id"], marak(2))
        assert met(body) == set()
        assert body["criteria"][2]["facts"]["police_reported_incidents"] == 1

    async def test_the_count_is_configurable(
        self,
        client: httpx.AsyncClient,
        world: World,
        configure: Callable[[RiskConfig], None],
    ) -> None:
        configure(RiskConfig(marak=MarakPolicy(escalation_incidents=5)))
        case = await open_case(client, world.police, world.marak)
        for days_ago in (10, 20, 30, 40):
            await self.record(client, world, case["id"], days_ago, police=True)
        body = await assess(client, world.police, case["id"], marak(2))
        assert met(body) == set()
        assert body["criteria"][2]["facts"]["required"] == 5
        await self.record(client, world, case["id"], 50, police=True)
        assert met(await assess(client, world.police, case["id"], marak(2))) == {
            "potential_escalation"
        }

    async def test_a_new_incident_makes_the_case_high_risk_by_itself(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.marak, world.police)
        for days in (5, 6):
            await add_incident(db, made, world.police, clock.today() - timedelta(days=days))
        await db.commit()
        assert await case_risk(client, world, made.id) is None
        await self.record(client, world, made.id, 1, police=True)
        assert await case_risk(client, world, made.id) == "high"
        r = await client.get(f"/api/v1/cases/{made.id}/risk", headers=world.police.headers)
        assert r.json()["police_reported_incidents"] == 3
        assert r.json()["escalation_incidents_required"] == 3

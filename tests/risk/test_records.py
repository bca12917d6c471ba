"""Incidents and external licensed-tool records on a case: allow and deny."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.clock import clock
from tests.cases.factories import add_member, make_case
from tests.problems import assert_problem
from tests.world import World


def incident(days_ago: int = 3, **extra: Any) -> dict[str, Any]:
    day = clock.today() - timedelta(days=days_ago)
    return {"occurred_on": day.isoformat(), "source": "police", "police_reported": True, **extra}


def hcr20(**extra: Any) -> dict[str, Any]:
    return {
        "tool": "hcr-20-v3",
        "assessed_on": (clock.today() - timedelta(days=20)).isoformat(),
        "assessor": "Forensic psychiatry outpatient clinic (demo)",
        "summary_rating": "moderate",
        "reference": "FPO-2026-114",
        **extra,
    }


class TestIncidents:
    async def test_a_member_records_and_lists_incidents(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.marak, world.police)
        await add_member(db, made, world.advocate, "support_person")
        await db.commit()
        url = f"/api/v1/cases/{made.id}/incidents"
        r = await client.post(
            url, json=incident(note="Report 5500/R/123/26"), headers=world.advocate.headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["police_reported"] is True and r.json()["note"] == "Report 5500/R/123/26"
        r = await client.post(
            url,
            json=incident(9, source="victim", police_reported=False),
            headers=world.police.headers,
        )
        assert r.status_code == 201, r.text
        listed = await client.get(url, headers=world.police.headers)
        assert [i["source"] for i in listed.json()["items"]] == ["police", "victim"]

    @pytest.mark.parametrize(
        "body",
        # Built when the test runs, not when it is collected: a run that crosses
        # midnight in Helsinki made "tomorrow" today (seen once in CI).
        [
            lambda: incident(-1),
            lambda: incident(description="He hit her in the kitchen."),
            lambda: incident(note="x" * 501),
            lambda: {**incident(), "source": "neighbour_gossip"},
            lambda: {k: v for k, v in incident().items() if k != "police_reported"},
        ],
        ids=["future", "description", "long-note", "source", "missing-flag"],
    )
    async def test_an_invalid_incident_is_422(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        body: Callable[[], dict[str, Any]],
    ) -> None:
        made = await make_case(db, world.marak, world.police)
        await db.commit()
        r = await client.post(
            f"/api/v1/cases/{made.id}/incidents", json=body(), headers=world.police.headers
        )
        assert_problem(r, 422)


class TestExternalTools:
    async def test_only_the_fact_and_the_summary_are_recorded(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.hah, world.police, status="assessment")
        await db.commit()
        url = f"/api/v1/cases/{made.id}/external-assessments"
        r = await client.post(url, json=hcr20(), headers=world.police.headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {
            "id", "case_id", "tool", "assessed_on", "assessor", "summary_rating", "reference",
            "recorded_by", "recorded_by_organisation_id", "created_at",
        }  # fmt: skip
        listed = await client.get(url, headers=world.police.headers)
        assert [i["tool"] for i in listed.json()["items"]] == ["hcr-20-v3"]

    @pytest.mark.parametrize(
        "body",
        [
            hcr20(items={"H1": "present", "C2": "partial"}),
            hcr20(notes="Scenario: targeted violence against the former manager."),
            hcr20(tool="lsi-r"),
            hcr20(summary_rating="extreme"),
            hcr20(assessed_on="2999-01-01"),
        ],
        ids=["items", "notes", "unknown-tool", "rating", "future"],
    )
    async def test_item_content_and_bad_values_are_422(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, body: dict[str, Any]
    ) -> None:
        made = await make_case(db, world.hah, world.police, status="assessment")
        await db.commit()
        url = f"/api/v1/cases/{made.id}/external-assessments"
        assert_problem(await client.post(url, json=body, headers=world.police.headers), 422)

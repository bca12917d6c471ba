"""Marak repeat detection across cases, its 12-month window, the flag, the referral gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from app.persons.models import Person
from app.platform.clock import clock
from tests.cases.factories import add_member, add_person, make_case
from tests.persons.factories import add_consent, consenting_victim
from tests.problems import assert_problem
from tests.risk.answers import marak
from tests.risk.factories import (
    add_incident,
    add_pair,
    add_referral,
    assess,
    make_assessment,
    new_pair,
    refer,
)
from tests.world import World, open_case

REFERRED_ON = date(2025, 6, 15)
LAST_DAY = date(2026, 6, 15)  # 12 calendar months after the referral
DAY_AFTER = date(2026, 6, 16)


@dataclass
class Pair:
    earlier: Case  # referred a year ago by a team the police officer is not a member of
    new: Case  # the police officer's new case about the same victim and perpetrator
    victim: Person


@pytest.fixture
async def pair(db: AsyncSession, world: World) -> Pair:
    victim, perpetrator = await new_pair(db, world.social_worker)
    earlier = await make_case(db, world.marak, world.social_worker)
    await add_pair(db, earlier, world.social_worker, victim, perpetrator)
    await add_referral(db, earlier, world.social_worker, REFERRED_ON)
    new = await make_case(db, world.marak, world.police)
    await add_pair(db, new, world.police, victim, perpetrator)
    await add_member(db, new, world.health)
    await db.commit()
    return Pair(earlier, new, victim)


async def incident_on(db: AsyncSession, case: Case, world: World, day: date) -> None:
    await add_incident(db, case, world.police, day, police=False)  # need not be a crime
    await db.commit()


class TestTheWindow:
    async def test_an_incident_on_the_last_day_of_the_12_months_is_a_repeat(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        pair: Pair,
        freeze: Callable[[date], None],
    ) -> None:
        freeze(LAST_DAY)
        await incident_on(db, pair.new, world, LAST_DAY)
        body = await assess(client, world.police, pair.new.id, marak(0))
        assert [c["criterion"] for c in body["criteria"] if c["met"]] == ["repeat"]
        assert body["criteria"][3]["facts"] == {
            "last_referral_on": "2025-06-15",
            "flag_until": "2026-06-15",
        }
        assert body["repeat"] == {
            "flagged": True,
            "last_referral_on": "2025-06-15",
            "flagged_until": "2026-06-15",
        }
        assert body["risk_level"] == "high"

    async def test_an_incident_a_day_later_is_not(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        pair: Pair,
        freeze: Callable[[date], None],
    ) -> None:
        freeze(DAY_AFTER)
        await incident_on(db, pair.new, world, DAY_AFTER)
        body = await assess(client, world.police, pair.new.id, marak(0))
        assert not body["referral_criteria_met"]
        assert body["repeat"]["flagged"] is False

    async def test_every_member_sees_the_flag_for_12_months_then_it_lapses_by_itself(
        self,
        client: httpx.AsyncClient,
        world: World,
        pair: Pair,
        freeze: Callable[[date], None],
    ) -> None:
        url = f"/api/v1/cases/{pair.new.id}/risk"
        freeze(LAST_DAY)
        for member in (world.police, world.health):
            r = await client.get(url, headers=member.headers)
            assert r.status_code == 200, r.text
            assert r.json()["repeat"] == {
                "flagged": True,
                "last_referral_on": "2025-06-15",
                "flagged_until": "2026-06-15",
            }
        freeze(DAY_AFTER)
        r = await client.get(url, headers=world.health.headers)
        assert r.json()["repeat"] == {
            "flagged": False,
            "last_referral_on": None,
            "flagged_until": None,
        }

    async def test_the_referral_date_is_the_finnish_calendar_day(
        self, db: AsyncSession, world: World, client: httpx.AsyncClient
    ) -> None:
        # 23:30 UTC on 14 June is 02:30 on 15 June in Helsinki.
        clock.freeze(datetime(2025, 6, 14, 23, 30, tzinfo=UTC))
        try:
            assert clock.today() == date(2025, 6, 15)
        finally:
            clock.unfreeze()


class TestNoLeak:
    async def test_only_yes_and_the_date_are_revealed_and_the_earlier_case_stays_404(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        pair: Pair,
        freeze: Callable[[date], None],
    ) -> None:
        theirs = await make_assessment(db, pair.earlier, world.social_worker, yes=20)
        await db.commit()
        freeze(LAST_DAY)
        await incident_on(db, pair.new, world, LAST_DAY)
        body = await assess(client, world.police, pair.new.id, marak(0))
        summary = await client.get(
            f"/api/v1/cases/{pair.new.id}/risk", headers=world.police.headers
        )
        for text in (str(body), summary.text):
            for secret in (
                str(pair.earlier.id),
                pair.earlier.reference,
                str(theirs.id),
                world.social_worker.sub,
            ):
                assert secret not in text
        h = world.police.headers
        base = f"/api/v1/cases/{pair.earlier.id}"
        for path in (base, base + "/assessments", base + "/risk", base + "/incidents"):
            assert_problem(await client.get(path, headers=h), 404)
        assert_problem(await client.get(f"/api/v1/assessments/{theirs.id}", headers=h), 404)

    async def test_another_perpetrator_is_not_the_same_pair(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        pair: Pair,
        freeze: Callable[[date], None],
    ) -> None:
        freeze(LAST_DAY)
        other = await make_case(db, world.marak, world.police)
        victim = (await new_pair(db, world.police))[0]
        await add_pair(db, other, world.police, victim, await add_person(db, world.police))
        await incident_on(db, other, world, LAST_DAY)
        body = await assess(client, world.police, other.id, marak(0))
        assert body["criteria"][3]["facts"]["last_referral_on"] is None


class TestReferredGate:
    async def test_a_repeat_goes_back_to_marak_whatever_the_score(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        pair: Pair,
        freeze: Callable[[date], None],
    ) -> None:
        freeze(LAST_DAY)
        await add_consent(db, pair.victim.id, world.police, case_id=pair.new.id)
        await incident_on(db, pair.new, world, LAST_DAY)
        await assess(client, world.police, pair.new.id, marak(0))
        r = await refer(client, world.police, pair.new.id)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "referred"

    async def test_no_referral_without_a_checklist(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await consenting_victim(client, world.police, case["id"])
        body = assert_problem(await refer(client, world.police, case["id"]), 422)
        assert [g["gate"] for g in body["gates"]] == ["marak_referral_criterion_met"]
        assert "checklist" in body["gates"][0]["detail"]

    async def test_no_referral_when_no_criterion_is_met(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await consenting_victim(client, world.police, case["id"])
        await assess(client, world.police, case["id"], marak(13))
        body = assert_problem(await refer(client, world.police, case["id"]), 422)
        detail = body["gates"][0]["detail"]
        assert detail.startswith("No Marak referral criterion is met.")
        assert "Score 13 is below the threshold 14." in detail

    async def test_a_met_criterion_and_consent_refer(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await consenting_victim(client, world.police, case["id"])
        await assess(client, world.police, case["id"], marak(14))
        r = await refer(client, world.police, case["id"])
        assert r.status_code == 200, r.text
        history = await client.get(
            f"/api/v1/cases/{case['id']}/transitions", headers=world.police.headers
        )
        assert "marak_referral_criterion_met" in history.json()[0]["gates"]
        assert len(history.json()[0]["gates"]) == 2  # the consent gate still applies

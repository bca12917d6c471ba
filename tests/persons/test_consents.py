"""Consents and legal bases, and the Marak gates that depend on them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from app.platform.db import utcnow
from tests.cases.factories import add_grant, make_case
from tests.persons.conftest import People, audit_rows
from tests.persons.factories import CONSENT, give_consent, record_person
from tests.problems import assert_problem
from tests.risk.answers import marak
from tests.risk.factories import assess
from tests.world import Actor, with_etag


def consents_url(person_id: str) -> str:
    return f"/api/v1/persons/{person_id}/consents"


async def move(
    client: httpx.AsyncClient, actor: Actor, case: dict[str, Any], to: str
) -> httpx.Response:
    r = await client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json={"to": to},
        headers=with_etag(actor, f'"{case["version"]}"'),
    )
    if r.status_code == 200:
        case.update(r.json())
    return r


class TestRecord:
    async def test_consent_and_statutory_bases_are_recorded_and_listed(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person = (await record_person(client, w.police, people.case["id"]))["person"]
        consent = await give_consent(client, w.police, person["id"])
        assert consent["active"] is True and consent["obtained_by"] == str(w.police.id)
        statutory = await give_consent(
            client,
            w.police,
            person["id"],
            basis="police_statutory_duty",
            scope="hah_sharing",
            given_by=None,
            method=None,
            reference="Poliisilaki 1:1",
        )
        referral = await give_consent(
            client, w.police, person["id"], scope="service_referral", service_name="Nollalinja"
        )
        r = await client.get(consents_url(person["id"]), headers=w.police.headers)
        assert [c["id"] for c in r.json()["items"]] == [
            consent["id"],
            statutory["id"],
            referral["id"],
        ]

    async def test_shape_rules(self, client: httpx.AsyncClient, people: People) -> None:
        w = people.world
        person = (await record_person(client, w.police, people.case["id"]))["person"]
        url, h = consents_url(person["id"]), w.police.headers
        invalid = [
            {**CONSENT, "given_by": None},  # consent needs who gave it
            {**CONSENT, "method": None},  # and how
            {**CONSENT, "given_by": "guardian"},  # a guardian must be linked
            {**CONSENT, "scope": "service_referral"},  # a referral names the service
            {"basis": "child_welfare_act_25", "scope": "ankkuri_sharing", "method": "oral"},
            {**CONSENT, "obtained_at": (utcnow() + timedelta(days=2)).isoformat()},
            {**CONSENT, "obtained_by": str(w.health.id)},  # server-owned
            {**CONSENT, "withdrawn_at": utcnow().isoformat()},  # withdrawal is its own act
        ]
        for body in invalid:
            assert_problem(await client.post(url, json=body, headers=h), 422)

    async def test_a_minor_consents_only_with_capacity_otherwise_a_guardian(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        teen_born = (date.today() - timedelta(days=15 * 365)).isoformat()
        teen = (
            await record_person(
                client, w.police, people.case["id"], "young_person", birth_date=teen_born
            )
        )["person"]
        guardian = (
            await record_person(
                client, w.police, people.case["id"], "guardian", given_name="Erja", birth_date=None
            )
        )["person"]
        url, h = consents_url(teen["id"]), w.police.headers
        assert_problem(await client.post(url, json=CONSENT, headers=h), 422)
        no_capacity = {**CONSENT, "minor_has_capacity": False}
        assert_problem(await client.post(url, json=no_capacity, headers=h), 422)
        ok = await give_consent(client, w.police, teen["id"], minor_has_capacity=True)
        assert ok["minor_has_capacity"] is True
        by_guardian = await give_consent(
            client,
            w.police,
            teen["id"],
            given_by="guardian",
            guardian_person_id=guardian["id"],
            scope="ankkuri_sharing",
        )
        assert by_guardian["guardian_person_id"] == guardian["id"]

    async def test_guardian_must_be_someone_you_can_see(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person = (await record_person(client, w.police, people.case["id"]))["person"]
        foreign = (await record_person(client, w.social_worker, people.foreign["id"]))["person"]
        r = await client.post(
            consents_url(person["id"]),
            json={**CONSENT, "given_by": "guardian", "guardian_person_id": foreign["id"]},
            headers=w.police.headers,
        )
        assert_problem(r, 422)


class TestWithdraw:
    async def test_withdrawal_keeps_the_record_and_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w = people.world
        person = (await record_person(client, w.police, people.case["id"]))["person"]
        consent = await give_consent(client, w.police, person["id"])
        url = f"{consents_url(person['id'])}/{consent['id']}/withdrawal"
        r = await client.post(
            url, json={"note": "Phoned the support person."}, headers=w.police.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False and r.json()["withdrawn_at"] is not None
        assert_problem(await client.post(url, json={}, headers=w.police.headers), 409)
        listed = (await client.get(consents_url(person["id"]), headers=w.police.headers)).json()
        assert [c["active"] for c in listed["items"]] == [False]
        actions = [e.action for e in await audit_rows(db, target_id=person["id"])]
        assert "person.basis.withdrawn" in actions

    async def test_unknown_consent_is_404(self, client: httpx.AsyncClient, people: People) -> None:
        w = people.world
        person = (await record_person(client, w.police, people.case["id"]))["person"]
        other = (await record_person(client, w.police, people.case["id"], given_name="B"))["person"]
        consent = await give_consent(client, w.police, other["id"])
        r = await client.post(
            f"{consents_url(person['id'])}/{consent['id']}/withdrawal",
            json={},
            headers=w.police.headers,
        )
        assert_problem(r, 404)


async def identified(client: httpx.AsyncClient, actor: Actor, case: dict[str, Any]) -> None:
    """A checklist that meets a criterion (app/risk gates the referral on it too)."""
    await assess(client, actor, case["id"], marak(14))
    case.update((await client.get(f"/api/v1/cases/{case['id']}", headers=actor.headers)).json())


class TestMarakGate:
    async def test_referral_is_blocked_without_consent_and_allowed_with_it(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w, case = people.world, people.case
        await identified(client, w.police, case)
        victim = (await record_person(client, w.police, case["id"], "victim"))["person"]
        body = assert_problem(await move(client, w.police, case, "referred"), 422)
        assert body["gates"] == [
            {
                "gate": "marak_victim_consent",
                "detail": "The victim's consent: No basis for marak_sharing is recorded.",
            }
        ]
        # A statutory basis is not the victim's consent: still blocked.
        await give_consent(
            client,
            w.police,
            victim["id"],
            basis="threat_to_life_or_health_notification",
            given_by=None,
            method=None,
        )
        assert_problem(await move(client, w.police, case, "referred"), 422)
        # Consent for another purpose does not count either.
        await give_consent(client, w.police, victim["id"], scope="ankkuri_sharing")
        assert_problem(await move(client, w.police, case, "referred"), 422)
        await give_consent(client, w.police, victim["id"])
        r = await move(client, w.police, case, "referred")
        assert r.status_code == 200, r.text
        denials = await audit_rows(db, target_id=case["id"], outcome="denied")
        assert [d.reason for d in denials] == ["422:gated: marak_victim_consent"] * 3

    async def test_withdrawal_blocks_further_sharing_and_the_block_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w, case = people.world, people.case
        await identified(client, w.police, case)
        victim = (await record_person(client, w.police, case["id"], "victim"))["person"]
        consent = await give_consent(client, w.police, victim["id"])
        assert (await move(client, w.police, case, "referred")).status_code == 200
        r = await client.post(
            f"{consents_url(victim['id'])}/{consent['id']}/withdrawal",
            json={},
            headers=w.police.headers,
        )
        assert r.status_code == 200
        body = assert_problem(await move(client, w.police, case, "on_agenda"), 422)
        assert "withdrawn" in body["detail"]
        (denial,) = await audit_rows(db, target_id=case["id"], outcome="denied")
        assert (denial.action, denial.reason) == (
            "case.transition",
            "422:gated: marak_victim_consent",
        )
        assert denial.actor_id == w.police.id
        # Closing the case (no disclosure) is still possible.
        r = await client.post(
            f"/api/v1/cases/{case['id']}/transitions",
            json={"to": "closed", "outcome": "consent_withdrawn"},
            headers=with_etag(w.police, f'"{case["version"]}"'),
        )
        assert r.status_code == 200, r.text

    async def test_every_victim_must_have_consented(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, case = people.world, people.case
        first = (await record_person(client, w.police, case["id"], "victim"))["person"]
        await record_person(client, w.police, case["id"], "victim", given_name="Toinen")
        await give_consent(client, w.police, first["id"])
        assert_problem(await move(client, w.police, case, "referred"), 422)


class TestConsentRefusals:
    async def test_emergency_access_reads_but_does_not_record(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w = people.world
        case: Case = await make_case(db, w.marak, w.social_worker)
        await db.commit()
        person = (await record_person(client, w.social_worker, str(case.id)))["person"]
        await add_grant(db, case, w.outsider_police)
        await db.commit()
        url = consents_url(person["id"])
        assert (await client.get(url, headers=w.outsider_police.headers)).status_code == 200
        r = await client.post(url, json=CONSENT, headers=w.outsider_police.headers)
        assert_problem(r, 403)

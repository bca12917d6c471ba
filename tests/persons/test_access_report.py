"""GET /persons/{id}/access-report: who processed the data, disclosed to whom, on what basis."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from app.platform.db import utcnow
from tests.persons.conftest import People, add_to_case
from tests.persons.factories import give_consent, new_code, record_person
from tests.problems import assert_problem
from tests.world import with_etag


def report_url(person_id: str) -> str:
    return f"/api/v1/persons/{person_id}/access-report"


class TestAccessReport:
    async def test_lists_exactly_the_accesses_made(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, code = people.world, new_code()
        await add_to_case(client, w.police, people.case, w.coordinator)
        created = await record_person(client, w.police, people.case["id"], identity_code=code)
        pid = created["person"]["id"]
        url = f"/api/v1/persons/{pid}"
        assert (await client.get(url, headers=w.police.headers)).status_code == 200
        assert (await client.get(url, headers=w.coordinator.headers)).status_code == 200
        assert_problem(await client.get(url, headers=w.social_worker.headers), 404)
        r = await client.patch(
            url,
            json={"reason": "Name typo.", "given_name": "Vilma", "case_id": people.case["id"]},
            headers=with_etag(w.police, '"1"'),
        )
        assert r.status_code == 200
        assert (await client.get(url + "/history", headers=w.police.headers)).status_code == 200
        consent = await give_consent(client, w.police, pid)
        search = await client.post(
            "/api/v1/persons/search", json={"identity_code": code}, headers=w.social_worker.headers
        )
        assert search.json()["match"] is not None

        r = await client.get(report_url(pid), headers=w.auditor.headers)
        assert r.status_code == 200, r.text
        report = r.json()
        got = [(e["actor_id"], e["action"], e["outcome"]) for e in report["entries"]]
        police, coordinator, social = (
            str(w.police.id),
            str(w.coordinator.id),
            str(w.social_worker.id),
        )
        assert got == [
            (police, "person.created", "allowed"),
            (police, "case.participant.added", "allowed"),
            (police, "person.read", "allowed"),
            (coordinator, "person.read", "allowed"),
            (social, "person.read", "denied"),
            (police, "person.corrected", "allowed"),
            (police, "person.history.read", "allowed"),
            (police, "person.basis.recorded.consent", "allowed"),
            (social, "person.match_handle.issued", "allowed"),
        ]
        assert report["owner_organisation"] == w.org.code
        assert report["truncated"] is False
        # Another organisation processed it: a disclosure, with the basis then on record.
        (disclosure,) = report["disclosures"]
        assert disclosure["organisation"] == w.social.code
        assert disclosure["accesses"] == 2  # the coordinator's read and the handle
        assert [b["consent_id"] for b in disclosure["bases"]] == [consent["id"]]
        # The report itself is an access, and shows up next time.
        again = (await client.get(report_url(pid), headers=w.auditor.headers)).json()
        last = again["entries"][-1]
        assert (last["actor_id"], last["action"]) == (
            str(w.auditor.id),
            "person.access_report.read",
        )
        # No personal data in the report: the entries carry ids and actions only.
        assert "Vilja" not in r.text and "Vilma" not in r.text and code not in r.text

    async def test_window_filters(self, client: httpx.AsyncClient, people: People) -> None:
        w = people.world
        created = await record_person(client, w.police, people.case["id"])
        url = report_url(created["person"]["id"])
        future = (utcnow() + timedelta(days=1)).isoformat()
        r = await client.get(url, params={"since": future}, headers=w.auditor.headers)
        assert_problem(r, 422)  # since after the default 'until' (now)
        past = (utcnow() - timedelta(days=3)).isoformat()
        r = await client.get(
            url, params={"since": past, "until": (utcnow() - timedelta(days=2)).isoformat()},
            headers=w.auditor.headers,
        )  # fmt: skip
        assert r.status_code == 200 and r.json()["entries"] == []
        naive = await client.get(
            url, params={"since": "2026-01-01T00:00:00"}, headers=w.auditor.headers
        )
        assert_problem(naive, 422)


class TestRefusals:
    async def test_only_auditors(self, client: httpx.AsyncClient, people: People) -> None:
        w = people.world
        created = await record_person(client, w.police, people.case["id"])
        for actor in (w.police, w.coordinator, w.social_worker):
            r = await client.get(report_url(created["person"]["id"]), headers=actor.headers)
            assert_problem(r, 403)

    async def test_unknown_person_is_404(self, client: httpx.AsyncClient, people: People) -> None:
        r = await client.get(report_url(str(uuid.uuid4())), headers=people.world.auditor.headers)
        assert_problem(r, 404)

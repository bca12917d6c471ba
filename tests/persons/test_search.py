"""POST /persons/search: only people in your cases; elsewhere at most a match handle."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.persons.conftest import People, audit_rows
from tests.persons.factories import new_code, record_person
from tests.problems import assert_problem

SEARCH = "/api/v1/persons/search"


class TestSearch:
    async def test_finds_people_in_your_cases_by_code_and_by_name(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, code = people.world, new_code()
        created = await record_person(client, w.police, people.case["id"], identity_code=code)
        by_code = await client.post(
            SEARCH, json={"identity_code": code.lower()}, headers=w.police.headers
        )
        assert by_code.status_code == 200, by_code.text
        assert [p["id"] for p in by_code.json()["items"]] == [created["person"]["id"]]
        assert by_code.json()["match"] is None
        by_name = await client.post(
            SEARCH,
            json={"given_name": "vilja", "family_name": "VIRTANEN", "birth_date": "1988-04-12"},
            headers=w.police.headers,
        )
        assert [p["id"] for p in by_name.json()["items"]] == [created["person"]["id"]]

    async def test_never_reveals_a_foreign_case(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        """Someone only in another team's case comes back as a bare handle: no id,
        no name, no case reference, no case id."""
        w, code = people.world, new_code()
        foreign = await record_person(
            client, w.social_worker, people.foreign["id"], identity_code=code
        )
        r = await client.post(SEARCH, json={"identity_code": code}, headers=w.police.headers)
        assert r.status_code == 200
        body = r.json()
        assert body["items"] == [] and body["ambiguous"] is False
        assert set(body["match"]) == {"handle", "expires_at"}
        for secret in (
            foreign["person"]["id"],
            people.foreign["id"],
            people.foreign["reference"],
            "Vilja",
            "Virtanen",
        ):
            assert secret not in r.text
        # The search terms never reach the audit log.
        rows = await audit_rows(db, actor_id=w.police.id)
        assert code not in repr([(e.action, e.target_id, e.purpose, e.reason) for e in rows])
        # And the foreign case stays invisible.
        r = await client.get(f"/api/v1/cases/{people.foreign['id']}", headers=w.police.headers)
        assert_problem(r, 404)

    async def test_handle_attaches_the_person_to_your_case(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, code = people.world, new_code()
        foreign = await record_person(
            client, w.social_worker, people.foreign["id"], identity_code=code
        )
        handle = (
            await client.post(SEARCH, json={"identity_code": code}, headers=w.police.headers)
        ).json()["match"]["handle"]
        r = await client.post(
            "/api/v1/persons",
            json={"case_id": people.case["id"], "role": "victim", "match_handle": handle},
            headers=w.police.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["person"]["id"] == foreign["person"]["id"]  # no duplicate record
        # Now a person of the caller's case: found, and still no foreign case in sight.
        r = await client.post(SEARCH, json={"identity_code": code}, headers=w.police.headers)
        assert [p["id"] for p in r.json()["items"]] == [foreign["person"]["id"]]
        assert people.foreign["id"] not in r.text

    async def test_handle_is_bound_to_the_caller(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, code = people.world, new_code()
        await record_person(client, w.social_worker, people.foreign["id"], identity_code=code)
        handle = (
            await client.post(SEARCH, json={"identity_code": code}, headers=w.police.headers)
        ).json()["match"]["handle"]
        # Someone else (a member of the target case) cannot redeem it ...
        await client.post(
            f"/api/v1/cases/{people.case['id']}/members",
            json={"user_id": str(w.health.id)},
            headers=w.police.headers,
        )
        r = await client.post(
            "/api/v1/persons",
            json={"case_id": people.case["id"], "role": "victim", "match_handle": handle},
            headers=w.health.headers,
        )
        assert_problem(r, 422)
        # ... and a forged handle is refused the same way.
        r = await client.post(
            "/api/v1/persons",
            json={
                "case_id": people.case["id"],
                "role": "victim",
                "match_handle": "v1.x." + "A" * 40,
            },
            headers=w.police.headers,
        )
        assert_problem(r, 422)

    async def test_several_outside_matches_are_only_ambiguous(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        for _ in range(2):
            await record_person(client, w.social_worker, people.foreign["id"])
        r = await client.post(
            SEARCH,
            json={"given_name": "Vilja", "family_name": "Virtanen", "birth_date": "1988-04-12"},
            headers=w.police.headers,
        )
        # Two people recorded without a birth date do not match a birth-date search.
        assert r.json() == {"items": [], "match": None, "ambiguous": False}
        for _ in range(2):
            await record_person(
                client, w.social_worker, people.foreign["id"], birth_date="1970-01-01"
            )
        r = await client.post(
            SEARCH,
            json={"given_name": "Vilja", "family_name": "Virtanen", "birth_date": "1970-01-01"},
            headers=w.police.headers,
        )
        assert r.json() == {"items": [], "match": None, "ambiguous": True}

    async def test_no_match_is_an_empty_answer(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        r = await client.post(
            SEARCH, json={"identity_code": new_code()}, headers=people.world.police.headers
        )
        assert r.json() == {"items": [], "match": None, "ambiguous": False}


class TestSearchRefusals:
    async def test_body_must_pick_one_way(self, client: httpx.AsyncClient, people: People) -> None:
        h = people.world.police.headers
        for body in (
            {},
            {"given_name": "Vilja"},
            {"identity_code": new_code(), "given_name": "Vilja"},
            {"identity_code": "131052-308U"},
            {"identity_code": new_code(), "owner_organisation_id": "x"},
        ):
            assert_problem(await client.post(SEARCH, json=body, headers=h), 422)

    async def test_there_is_no_search_by_url(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        code = new_code()
        r = await client.get(
            SEARCH, params={"identity_code": code}, headers=people.world.police.headers
        )
        # "search" is not a person id; nothing is searched and nothing echoed.
        assert r.status_code in (404, 405, 422)
        assert code not in r.text

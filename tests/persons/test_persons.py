"""POST /persons, GET|PATCH /persons/{id}, GET /persons/{id}/history: allow and deny."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cases.factories import add_grant, make_case
from tests.persons.conftest import People, add_to_case, audit_rows
from tests.persons.factories import new_code, person_body, record_person
from tests.problems import assert_problem
from tests.world import with_etag

CANARY_STREET = "Kanarialintu 13 B 7"


def protected_body(**extra: Any) -> dict[str, Any]:
    return person_body(
        identity_code=new_code(),
        address={"street": CANARY_STREET, "city": "Helsinki"},
        phones=[{"number": "+358 40 111 2223", "safe_to_call": False}],
        safe_contact={"safe_to_call": False, "safe_times": "Weekday mornings"},
        **extra,
    )


class TestCreate:
    async def test_member_records_a_person_in_the_case(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        r = await client.post(
            "/api/v1/persons",
            json={"case_id": people.case["id"], "role": "victim", "person": protected_body()},
            headers=w.police.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        person = body["person"]
        assert r.headers["location"] == f"/api/v1/persons/{person['id']}"
        assert r.headers["etag"] == '"1"'
        # The creation response never carries protected fields.
        assert person["visibility"] == "basic"
        assert {"address", "phones", "identity_code", "safe_contact"}.isdisjoint(person)
        assert person["identity_code_recorded"] is True
        assert CANARY_STREET not in r.text
        participants = await client.get(
            f"/api/v1/cases/{people.case['id']}/participants", headers=w.police.headers
        )
        assert [p["person"]["id"] for p in participants.json()] == [person["id"]]
        assert body["participant_id"] == participants.json()[0]["id"]

    async def test_birth_date_comes_from_the_identity_code(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        code = new_code()
        created = await record_person(
            client, people.world.police, people.case["id"], identity_code=code
        )
        assert created["person"]["birth_date"] == "1988-04-12"

    async def test_birth_date_contradicting_the_code_is_422(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        r = await client.post(
            "/api/v1/persons",
            json={
                "case_id": people.case["id"],
                "role": "victim",
                "person": person_body(identity_code=new_code(), birth_date="1999-01-01"),
            },
            headers=people.world.police.headers,
        )
        assert_problem(r, 422)

    async def test_invalid_identity_code_is_422_without_echoing_it(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        r = await client.post(
            "/api/v1/persons",
            json={
                "case_id": people.case["id"],
                "role": "victim",
                "person": person_body(identity_code="131052-308U"),
            },
            headers=people.world.police.headers,
        )
        body = assert_problem(r, 422)
        assert "131052" not in r.text
        assert body["errors"][0]["field"].endswith("identity_code")

    async def test_a_recorded_identity_code_gives_409_with_a_match_handle(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, code = people.world, new_code()
        await record_person(client, w.social_worker, people.foreign["id"], identity_code=code)
        r = await client.post(
            "/api/v1/persons",
            json={
                "case_id": people.case["id"],
                "role": "victim",
                "person": person_body(identity_code=code),
            },
            headers=w.police.headers,
        )
        body = assert_problem(r, 409)
        assert body["match"]["handle"]
        assert people.foreign["id"] not in r.text and "reference" not in body

    async def test_protected_fields_from_a_role_without_them_are_403_and_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w = people.world
        await add_to_case(client, w.police, people.case, people.youth)
        r = await client.post(
            "/api/v1/persons",
            json={"case_id": people.case["id"], "role": "victim", "person": protected_body()},
            headers=people.youth.headers,
        )
        assert_problem(r, 403)
        denied = await audit_rows(db, actor_id=people.youth.id, outcome="denied")
        assert [(d.action, d.reason) for d in denied] == [("person.create", "403:protected fields")]
        # The names alone are fine for them.
        await record_person(client, people.youth, people.case["id"])

    async def test_server_owned_fields_are_refused(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        for extra in (
            {"owner_organisation_id": str(uuid.uuid4())},
            {"identity_code_index": "0" * 64},
            {"address_enc": "v1.k.AAAA"},
            {"version": 7},
        ):
            r = await client.post(
                "/api/v1/persons",
                json={
                    "case_id": people.case["id"],
                    "role": "victim",
                    "person": person_body(**extra),
                },
                headers=people.world.police.headers,
            )
            assert_problem(r, 422)

    async def test_needs_exactly_one_of_person_and_handle(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        r = await client.post(
            "/api/v1/persons",
            json={"case_id": people.case["id"], "role": "victim"},
            headers=people.world.police.headers,
        )
        assert_problem(r, 422)


class TestRead:
    async def test_member_reads_the_person(self, client: httpx.AsyncClient, people: People) -> None:
        w = people.world
        created = await record_person(client, w.police, people.case["id"], **protected_body())
        url = f"/api/v1/persons/{created['person']['id']}"
        r = await client.get(f"{url}?case_id={people.case['id']}", headers=w.police.headers)
        assert r.status_code == 200, r.text
        assert r.json()["address"]["street"] == CANARY_STREET
        assert r.headers["etag"] == '"1"'
        # Without a case: the identity only.
        r = await client.get(url, headers=w.police.headers)
        assert r.json()["visibility"] == "identity" and CANARY_STREET not in r.text

    async def test_person_seen_only_through_a_foreign_case_is_404(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w = people.world
        created = await record_person(client, w.social_worker, people.foreign["id"])
        person_id = created["person"]["id"]
        for path in ("", "/history", "/consents"):
            r = await client.get(f"/api/v1/persons/{person_id}{path}", headers=w.police.headers)
            assert_problem(r, 404)
        missing = await client.get(f"/api/v1/persons/{uuid.uuid4()}", headers=w.police.headers)
        assert_problem(missing, 404)
        denied = await audit_rows(db, actor_id=w.police.id, target_id=person_id)
        assert {d.outcome for d in denied} == {"denied"}

    async def test_removed_member_loses_the_person(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        await add_to_case(client, w.police, people.case, w.social_worker)
        created = await record_person(client, w.police, people.case["id"])
        url = f"/api/v1/persons/{created['person']['id']}"
        assert (await client.get(url, headers=w.social_worker.headers)).status_code == 200
        members = (
            await client.get(f"/api/v1/cases/{people.case['id']}/members", headers=w.police.headers)
        ).json()
        member = next(m for m in members if m["user_id"] == str(w.social_worker.id))
        r = await client.delete(
            f"/api/v1/cases/{people.case['id']}/members/{member['id']}",
            headers=with_etag(w.police, f'"{member["version"]}"'),
        )
        assert r.status_code == 204
        assert_problem(await client.get(url, headers=w.social_worker.headers), 404)


class TestCorrect:
    async def test_correction_is_a_new_version_with_author_and_reason(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, case_id = people.world, people.case["id"]
        created = await record_person(client, w.police, case_id, **protected_body())
        url = f"/api/v1/persons/{created['person']['id']}"
        r = await client.patch(
            url,
            json={"reason": "Misspelt at intake.", "given_name": "Vilma", "case_id": case_id},
            headers=with_etag(w.police, created["etag"]),
        )
        assert r.status_code == 200, r.text
        assert r.json()["given_name"] == "Vilma" and r.json()["case_id"] == case_id
        assert r.headers["etag"] == '"2"'
        history = (await client.get(url + "/history", headers=w.police.headers)).json()
        v1, v2 = history["versions"]
        assert (v1["version"], v1["reason"], v1["snapshot"]["given_name"]) == (
            1,
            "recorded",
            "Vilja",
        )
        assert "address" not in v1["snapshot"]  # facts have their own, per-case history
        assert (v2["version"], v2["reason"], v2["case_id"]) == (2, "Misspelt at intake.", case_id)
        assert v2["author_id"] == str(w.police.id)
        assert v2["changed_fields"] == ["given_name"]
        # The facts are corrected through the case.
        facts = f"/api/v1/cases/{case_id}/persons/{created['person']['id']}/facts"
        r = await client.patch(
            facts,
            json={"reason": "Moved out.", "address": None},
            headers=with_etag(w.police, '"1"'),
        )
        assert r.status_code == 200, r.text
        assert r.json()["address"] is None and r.headers["etag"] == '"2"'
        history = (await client.get(facts + "/history", headers=w.police.headers)).json()
        f1, f2 = history["versions"]
        assert f1["snapshot"]["address"]["street"] == CANARY_STREET
        assert (f2["reason"], f2["changed_fields"]) == ("Moved out.", ["address"])
        assert f2["snapshot"]["address"] is None

    async def test_facts_are_not_corrected_through_the_person(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, case_id = people.world, people.case["id"]
        created = await record_person(client, w.police, case_id)
        r = await client.patch(
            f"/api/v1/persons/{created['person']['id']}",
            json={"reason": "New phone.", "phones": [], "case_id": case_id},
            headers=with_etag(w.police, '"1"'),
        )
        assert_problem(r, 422)

    async def test_if_match_is_required_and_checked(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        created = await record_person(client, w.police, people.case["id"])
        url = f"/api/v1/persons/{created['person']['id']}"
        body = {"reason": "Fix the name.", "given_name": "Vilma", "case_id": people.case["id"]}
        assert_problem(await client.patch(url, json=body, headers=w.police.headers), 428)
        assert_problem(await client.patch(url, json=body, headers=with_etag(w.police, '"9"')), 412)

    async def test_reason_is_required(self, client: httpx.AsyncClient, people: People) -> None:
        w = people.world
        created = await record_person(client, w.police, people.case["id"])
        url = f"/api/v1/persons/{created['person']['id']}"
        for body in ({"given_name": "Vilma"}, {"reason": "Nothing changes."}):
            r = await client.patch(url, json=body, headers=with_etag(w.police, '"1"'))
            assert_problem(r, 422)

    async def test_basic_role_may_fix_names_but_not_protected_fields(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        await add_to_case(client, w.police, people.case, people.youth)
        created = await record_person(client, w.police, people.case["id"], **protected_body())
        url = f"/api/v1/persons/{created['person']['id']}"
        case_id = people.case["id"]
        r = await client.patch(
            f"/api/v1/cases/{case_id}/persons/{created['person']['id']}/facts",
            json={"reason": "New phone number.", "phones": []},
            headers=with_etag(people.youth, '"1"'),
        )
        assert_problem(r, 403)
        r = await client.patch(
            url,
            json={"reason": "Turvakielto.", "non_disclosure": True, "case_id": case_id},
            headers=with_etag(people.youth, '"1"'),
        )
        assert_problem(r, 403)
        r = await client.patch(
            url,
            json={
                "reason": "Spelling of the name.",
                "family_name": "Virtanen-Koski",
                "case_id": case_id,
            },
            headers=with_etag(people.youth, '"1"'),
        )
        assert r.status_code == 200 and r.json()["visibility"] == "basic"

    async def test_non_disclosed_address_is_changed_only_by_those_who_may_see_it(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        await add_to_case(client, w.police, people.case, w.coordinator)
        created = await record_person(
            client, w.police, people.case["id"], **protected_body(non_disclosure=True)
        )
        url = f"/api/v1/cases/{people.case['id']}/persons/{created['person']['id']}/facts"
        r = await client.patch(
            url,
            json={"reason": "Moved to a shelter.", "address": {"street": "Elsewhere 1"}},
            headers=with_etag(w.coordinator, '"1"'),
        )
        assert_problem(r, 403)
        r = await client.patch(
            url,
            json={"reason": "Moved to a shelter.", "address": {"street": "Elsewhere 1"}},
            headers=with_etag(w.police, '"1"'),
        )
        assert r.status_code == 200, r.text

    async def test_taking_another_persons_identity_code_is_409(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w, code = people.world, new_code()
        await record_person(client, w.social_worker, people.foreign["id"], identity_code=code)
        created = await record_person(client, w.police, people.case["id"])
        r = await client.patch(
            f"/api/v1/persons/{created['person']['id']}",
            json={
                "reason": "Code from the register.",
                "identity_code": code,
                "case_id": people.case["id"],
            },
            headers=with_etag(w.police, '"1"'),
        )
        assert_problem(r, 409)

    async def test_non_member_gets_404_and_emergency_holder_403(
        self, client: httpx.AsyncClient, db: AsyncSession, people: People
    ) -> None:
        w = people.world
        created = await record_person(client, w.social_worker, people.foreign["id"])
        url = f"/api/v1/persons/{created['person']['id']}"
        body = {"reason": "Fix the name.", "given_name": "X", "case_id": people.foreign["id"]}
        assert_problem(await client.patch(url, json=body, headers=with_etag(w.police, '"1"')), 404)
        case = await make_case(db, w.marak, w.social_worker)
        await db.commit()
        in_case = await record_person(client, w.social_worker, str(case.id))
        await add_grant(db, case, w.outsider_police)
        await db.commit()
        url = f"/api/v1/persons/{in_case['person']['id']}"
        reader = await client.get(url, headers=w.outsider_police.headers)
        assert reader.status_code == 200 and reader.json()["visibility"] == "basic"
        body["case_id"] = str(case.id)
        r = await client.patch(url, json=body, headers=with_etag(w.outsider_police, '"1"'))
        assert_problem(r, 403)


class TestHistory:
    async def test_history_shows_each_version_as_the_reader_may_see_it(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        await add_to_case(client, w.police, people.case, people.youth)
        created = await record_person(client, w.police, people.case["id"], **protected_body())
        url = f"/api/v1/persons/{created['person']['id']}"
        r = await client.patch(
            url,
            json={"reason": "Turvakielto.", "non_disclosure": True, "case_id": people.case["id"]},
            headers=with_etag(w.police, '"1"'),
        )
        assert r.status_code == 200, r.text
        r = await client.get(url + "/history", headers=people.youth.headers)
        assert r.status_code == 200, r.text
        versions = r.json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        assert all(v["snapshot"]["visibility"] == "basic" for v in versions)
        assert '"identity_code"' not in r.text and CANARY_STREET not in r.text
        facts = f"/api/v1/cases/{people.case['id']}/persons/{created['person']['id']}/facts"
        r = await client.get(facts + "/history", headers=people.youth.headers)
        assert r.status_code == 200, r.text
        assert r.json()["versions"][0]["snapshot"] == {"visibility": "basic"}
        assert r.json()["versions"][0]["changed_fields"] == []
        assert CANARY_STREET not in r.text

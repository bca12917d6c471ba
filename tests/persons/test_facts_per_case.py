"""Issue 11: a person record must not carry protected facts from one case into another.

Team A (a Marak case of the social services) records a victim under
turvakielto with her shelter address, phones, safe-contact times and feared
persons, corrects her record and records her consent to Marak sharing. An
officer of another organisation who knows only her identity code searches,
attaches her to *their own* case with the match handle, and then reads
everything the API offers about her: the identity, and nothing Team A
recorded.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.cases.test_transitions import CONSENT, assessed, move
from tests.persons.conftest import People
from tests.persons.factories import give_consent, new_code, person_body, record_person
from tests.problems import assert_problem
from tests.risk.answers import marak
from tests.world import open_case, with_etag

SECRETS = {
    "street": "Turvakoti Kanarialintu 7",
    "phone": "+358 40 777 1234",
    "times": "Tuesdays 9-11 only",
    "feared": "Ex-partner Pekka and his cousin",
    "reason": "Corrected from the register by Team A",
}


def victim_body(code: str) -> dict[str, Any]:
    return person_body(
        identity_code=code,
        non_disclosure=True,
        address={"street": SECRETS["street"], "is_shelter": True},
        phones=[{"number": SECRETS["phone"], "safe_to_call": False}],
        safe_contact={"safe_times": SECRETS["times"], "feared_persons": SECRETS["feared"]},
    )


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


async def team_a_victim(client: httpx.AsyncClient, people: People) -> tuple[str, str, str]:
    """Team A's victim: (person id, identity code, team A's case id)."""
    w, case_a, code = people.world, people.foreign["id"], new_code()
    created = await record_person(client, w.social_worker, case_a, **victim_body(code))
    person_id = str(created["person"]["id"])
    r = await client.patch(
        f"/api/v1/persons/{person_id}",
        json={"reason": SECRETS["reason"], "preferred_language": "fi", "case_id": case_a},
        headers=with_etag(w.social_worker, '"1"'),
    )
    assert r.status_code == 200, r.text
    await give_consent(client, w.social_worker, person_id, case_a)
    # Team A itself sees what it recorded, through its case.
    r = await client.get(
        f"/api/v1/persons/{person_id}?case_id={case_a}", headers=w.social_worker.headers
    )
    assert r.json()["address"]["street"] == SECRETS["street"]
    return person_id, code, case_a


async def attach_by_code(
    client: httpx.AsyncClient, people: People, code: str, case_id: str
) -> dict[str, Any]:
    w = people.world
    r = await client.post(
        "/api/v1/persons/search", json={"identity_code": code}, headers=w.police.headers
    )
    assert r.status_code == 200 and r.json()["items"] == [], r.text
    handle = r.json()["match"]["handle"]
    r = await client.post(
        "/api/v1/persons",
        json={"case_id": case_id, "role": "victim", "match_handle": handle},
        headers=w.police.headers,
    )
    assert r.status_code == 201, r.text
    assert not leaks(r.text)
    return dict(r.json())


class TestAttackThroughTheMatchHandle:
    async def test_another_organisation_gets_the_identity_and_nothing_team_a_recorded(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person_id, code, case_a = await team_a_victim(client, people)
        case_b = (await open_case(client, w.police, w.ankkuri))["id"]
        await attach_by_code(client, people, code, case_b)
        base = f"/api/v1/persons/{person_id}"
        seen: list[httpx.Response] = []

        r = await client.get(base, headers=w.police.headers)
        assert r.status_code == 200, r.text
        assert r.json()["visibility"] == "identity"
        assert {"address", "phones", "safe_contact"}.isdisjoint(r.json())
        assert r.json()["non_disclosure"] is True  # the flag is identity: shared
        seen.append(r)

        r = await client.get(f"{base}?case_id={case_b}", headers=w.police.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["address"], body["phones"], body["safe_contact"]) == (None, [], None)
        seen.append(r)

        facts_b = f"/api/v1/cases/{case_b}/persons/{person_id}/facts"
        r = await client.get(facts_b, headers=w.police.headers)
        assert r.status_code == 200 and r.json()["version"] == 0, r.text
        seen.append(r)
        r = await client.get(facts_b + "/history", headers=w.police.headers)
        assert r.json()["versions"] == []
        seen.append(r)

        # Team A's case is not a way in.
        assert_problem(await client.get(f"{base}?case_id={case_a}", headers=w.police.headers), 404)
        facts_a = f"/api/v1/cases/{case_a}/persons/{person_id}/facts"
        for url in (facts_a, facts_a + "/history"):
            assert_problem(await client.get(url, headers=w.police.headers), 404)

        r = await client.get(base + "/history", headers=w.police.headers)
        assert r.status_code == 200, r.text
        assert r.json()["versions"] == []  # every version so far was made through case A
        assert str(w.social_worker.id) not in r.text and str(w.social.id) not in r.text
        seen.append(r)

        r = await client.get(base + "/consents", headers=w.police.headers)
        assert r.status_code == 200 and r.json()["items"] == [], r.text
        seen.append(r)

        r = await client.post(
            "/api/v1/persons/search", json={"identity_code": code}, headers=w.police.headers
        )
        (item,) = r.json()["items"]
        assert item["visibility"] == "identity"
        seen.append(r)

        for response in seen:
            assert not leaks(response.text), (str(response.request.url), leaks(response.text))
            assert "marak_sharing" not in response.text

    async def test_each_case_records_and_sees_its_own_facts(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person_id, code, case_a = await team_a_victim(client, people)
        case_b = (await open_case(client, w.police, w.ankkuri))["id"]
        await attach_by_code(client, people, code, case_b)
        facts_b = f"/api/v1/cases/{case_b}/persons/{person_id}/facts"
        r = await client.patch(
            facts_b,
            json={"reason": "Met at the station.", "phones": [{"number": "+358 50 123 4567"}]},
            headers=with_etag(w.police, '"0"'),
        )
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == '"1"' and r.json()["address"] is None
        # Team A still sees only its own facts, and none of case B's.
        r = await client.get(
            f"/api/v1/persons/{person_id}?case_id={case_a}", headers=w.social_worker.headers
        )
        assert [p["number"] for p in r.json()["phones"]] == [SECRETS["phone"]]
        # An identity correction made through case B is shown to B, not to A.
        r = await client.patch(
            f"/api/v1/persons/{person_id}",
            json={"reason": "Name as in passport.", "given_name": "Vilja-Maria", "case_id": case_b},
            headers=with_etag(w.police, '"2"'),
        )
        assert r.status_code == 200, r.text
        history_b = (
            await client.get(f"/api/v1/persons/{person_id}/history", headers=w.police.headers)
        ).json()
        assert [(v["version"], v["case_id"]) for v in history_b["versions"]] == [(3, case_b)]
        history_a = (
            await client.get(
                f"/api/v1/persons/{person_id}/history", headers=w.social_worker.headers
            )
        ).json()
        assert [v["version"] for v in history_a["versions"]] == [1, 2]

    async def test_identity_correction_must_name_a_readable_case(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person_id, code, case_a = await team_a_victim(client, people)
        case_b = (await open_case(client, w.police, w.ankkuri))["id"]
        await attach_by_code(client, people, code, case_b)
        url = f"/api/v1/persons/{person_id}"
        body = {"reason": "Fix the name.", "given_name": "X"}
        assert_problem(await client.patch(url, json=body, headers=with_etag(w.police, '"2"')), 422)
        body["case_id"] = case_a
        assert_problem(await client.patch(url, json=body, headers=with_etag(w.police, '"2"')), 404)


class TestConsentIsBoundToItsCase:
    async def test_consent_of_team_a_does_not_open_team_bs_marak_case(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person_id, code, case_a = await team_a_victim(client, people)
        case_b = await open_case(client, w.police, w.marak)
        await attach_by_code(client, people, code, case_b["id"])
        # Team A's consent is on record and live, but it was given for case A.
        r = await client.get(
            f"/api/v1/persons/{person_id}/consents", headers=w.social_worker.headers
        )
        (consent,) = r.json()["items"]
        assert consent["case_id"] == case_a and consent["active"] is True
        await assessed(client, w.police, case_b, marak(14))
        body = assert_problem(
            await move(client, w.police, case_b, to="referred", consent=CONSENT), 422
        )
        assert [g["gate"] for g in body["gates"]] == ["marak_victim_consent"]
        # Her consent given to team B, for case B, does.
        await give_consent(client, w.police, person_id, case_b["id"])
        r = await move(client, w.police, case_b, to="referred", consent=CONSENT)
        assert r.status_code == 200, r.text

    async def test_a_consent_is_recorded_only_for_a_case_of_yours_and_withdrawn_there(
        self, client: httpx.AsyncClient, people: People
    ) -> None:
        w = people.world
        person_id, code, case_a = await team_a_victim(client, people)
        case_b = (await open_case(client, w.police, w.ankkuri))["id"]
        await attach_by_code(client, people, code, case_b)
        url = f"/api/v1/persons/{person_id}/consents"
        body = {"basis": "consent", "scope": "ankkuri_sharing", "given_by": "person",
                "method": "oral"}  # fmt: skip
        assert_problem(await client.post(url, json=body, headers=w.police.headers), 422)
        r = await client.post(url, json=body | {"case_id": case_a}, headers=w.police.headers)
        assert_problem(r, 404)
        mine = await give_consent(client, w.police, person_id, case_b, scope="ankkuri_sharing")
        theirs = (await client.get(url, headers=w.social_worker.headers)).json()["items"]
        assert mine["id"] not in {c["id"] for c in theirs}
        # Team A's consent cannot be withdrawn (or found) by team B.
        r = await client.post(
            f"{url}/{theirs[0]['id']}/withdrawal", json={}, headers=w.police.headers
        )
        assert_problem(r, 404)
        r = await client.post(f"{url}/{mine['id']}/withdrawal", json={}, headers=w.police.headers)
        assert r.status_code == 200 and r.json()["active"] is False

"""Protected-field visibility per role: the exact key set each role gets (snapshots).

docs/DOMAIN.md section 4 and issue 4: protected fields go only to case members whose
role needs them (police, social worker, coordinator, victim advocate, and a
health worker in their own organisation's cases). Others get a *different
schema*, so the fields are absent, not null. Under turvakielto the address is
withheld from everyone but police, social work and the support person, and
the flag is in every response.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from tests.cases.factories import add_grant
from tests.persons.conftest import add_to_case
from tests.persons.factories import new_code, record_person
from tests.world import Actor, TokenFactory, World, build_world, make_user, open_case

BASIC = {
    "id", "given_name", "family_name", "birth_date", "preferred_language", "non_disclosure",
    "identity_code_recorded", "owner_organisation_id", "created_at", "updated_at", "version",
    "visibility",
}  # fmt: skip
IDENTITY = BASIC | {"identity_code"}  # no case named: identity only
ADDRESS_WITHHELD = IDENTITY | {"case_id", "phones", "safe_contact"}
PROTECTED = ADDRESS_WITHHELD | {"address"}
SECRETS = ("Kanarialintu", "+358 40 555 0101", "Only before noon")


def body(non_disclosure: bool) -> dict[str, Any]:
    return {
        "identity_code": new_code(),
        "non_disclosure": non_disclosure,
        "address": {"street": "Kanarialintu 13", "is_shelter": non_disclosure},
        "phones": [{"number": "+358 40 555 0101"}],
        "safe_contact": {"safe_times": "Only before noon"},
    }


@pytest.fixture
async def cast(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> tuple[World, Actor, dict[str, Any]]:
    world = await build_world(db, tokens)
    youth = await make_user(db, tokens, world.org, "youth_worker", teams=(world.marak,))
    await db.commit()
    case = await open_case(client, world.police, world.marak)
    await add_to_case(
        client, world.police, case,
        world.social_worker, world.coordinator, world.advocate, world.health, youth,
    )  # fmt: skip
    return world, youth, case


# (role label) -> expected key set without / with turvakielto
EXPECTED = {
    "police": (PROTECTED, PROTECTED),
    "social_worker": (PROTECTED, PROTECTED),
    "victim_advocate": (PROTECTED, PROTECTED),
    "coordinator": (PROTECTED, ADDRESS_WITHHELD),
    "health_worker (other organisation's case)": (BASIC, BASIC),
    "youth_worker": (BASIC, BASIC),
    "emergency access": (BASIC, BASIC),
}


@pytest.mark.parametrize("non_disclosure", [False, True], ids=["plain", "turvakielto"])
async def test_key_set_per_role(
    client: httpx.AsyncClient,
    db: AsyncSession,
    cast: tuple[World, Actor, dict[str, Any]],
    non_disclosure: bool,
) -> None:
    world, youth, case = cast
    created = await record_person(client, world.police, case["id"], **body(non_disclosure))
    url = f"/api/v1/persons/{created['person']['id']}?case_id={case['id']}"
    granted = await db.get(Case, uuid.UUID(case["id"]))
    assert granted is not None
    await add_grant(db, granted, world.outsider_police)
    await db.commit()
    readers = {
        "police": world.police,
        "social_worker": world.social_worker,
        "victim_advocate": world.advocate,
        "coordinator": world.coordinator,
        "health_worker (other organisation's case)": world.health,
        "youth_worker": youth,
        "emergency access": world.outsider_police,
    }
    got = {}
    for label, actor in readers.items():
        r = await client.get(url, headers=actor.headers)
        assert r.status_code == 200, (label, r.text)
        data = r.json()
        got[label] = set(data)
        assert data["non_disclosure"] is non_disclosure, label  # flagged in every response
        if set(data) == BASIC:
            assert not any(s in r.text for s in SECRETS), label
        if "address" not in data:
            assert "Kanarialintu" not in r.text, label
    want = {label: pair[non_disclosure] for label, pair in EXPECTED.items()}
    assert got == want


async def test_health_worker_sees_protected_fields_in_own_organisations_case(
    client: httpx.AsyncClient, cast: tuple[World, Actor, dict[str, Any]]
) -> None:
    world, _youth, _case = cast
    own = await open_case(client, world.health, world.marak)  # owned by the health org
    created = await record_person(client, world.health, own["id"], **body(False))
    url = f"/api/v1/persons/{created['person']['id']}"
    r = await client.get(f"{url}?case_id={own['id']}", headers=world.health.headers)
    assert set(r.json()) == PROTECTED
    # Under turvakielto a health worker is not among those who see the address.
    r = await client.patch(
        f"/api/v1/persons/{created['person']['id']}",
        json={"reason": "Turvakielto registered.", "non_disclosure": True, "case_id": own["id"]},
        headers={**world.health.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == ADDRESS_WITHHELD


async def test_participant_lists_flag_turvakielto_without_protected_fields(
    client: httpx.AsyncClient, cast: tuple[World, Actor, dict[str, Any]]
) -> None:
    world, youth, case = cast
    await record_person(client, world.police, case["id"], **body(True))
    r = await client.get(f"/api/v1/cases/{case['id']}/participants", headers=youth.headers)
    (participant,) = r.json()
    assert participant["person"]["non_disclosure"] is True
    assert set(participant["person"]) == {
        "id", "given_name", "family_name", "birth_date", "non_disclosure",
    }  # fmt: skip
    assert not any(s in r.text for s in SECRETS)


async def test_search_results_use_the_same_schemas(
    client: httpx.AsyncClient, cast: tuple[World, Actor, dict[str, Any]]
) -> None:
    world, youth, case = cast
    data = body(True)
    await record_person(client, world.police, case["id"], **data)
    search = {"identity_code": data["identity_code"]}
    # Search names no case: the identity only, never a case's facts.
    expected = [(world.police, IDENTITY), (world.coordinator, IDENTITY), (youth, BASIC)]
    for actor, keys in expected:
        r = await client.post("/api/v1/persons/search", json=search, headers=actor.headers)
        (item,) = r.json()["items"]
        assert set(item) == keys

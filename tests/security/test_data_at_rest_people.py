"""Concerns' and person versions' free text at rest (issue 15, revision 0025).

A concern exists before any case, and a person's identity is shared by all
their cases: their texts are sealed under the field key (``v1.``) and no
shredding takes them. A case's facts versions are sealed under the case key
and go with it. Text written before 0025 reads until ``keys rotate`` seals it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.service import shred_case_key
from app.concerns.models import Concern
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.persons.models import PersonVersion
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.persons.factories import new_code, record_person
from tests.problems import assert_problem
from tests.security.at_rest import MARK, assert_no_marker, raw_rows
from tests.world import World, open_case, with_etag

CONCERN = {
    "subject": {"given_name": f"{MARK}Given", "family_name": f"{MARK}Family"},
    "description": f"{MARK} bruises seen at the clinic",
    "legal_basis": "threat_to_life_or_health_notification",
}


async def _concern(client: httpx.AsyncClient, world: World, code: str) -> str:
    """A concern about a known person (matched by code: the names stay on the concern),
    screened into a case with a marked reason."""
    body = {**CONCERN, "team_id": str(world.hah.id)}
    body["subject"] = {**CONCERN["subject"], "identity_code": code}
    r = await client.post("/api/v1/concerns", json=body, headers=world.health.headers)
    assert r.status_code == 201, r.text
    url = f"/api/v1/concerns/{r.json()['id']}"
    r = await client.get(url, headers=world.police.headers)
    decision = {
        "decision": "create_case",
        "participant_role": "person_of_concern",
        "reason": f"{MARK} threat is real",
    }
    r = await client.post(
        f"{url}/screening", json=decision, headers=with_etag(world.police, r.headers["etag"])
    )
    assert r.status_code == 200, r.text
    return url


async def test_concern_text_is_sealed_under_the_field_key_and_outlives_a_shred(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    code = new_code()
    case = await open_case(client, world.police, world.marak)
    await record_person(client, world.police, case["id"], identity_code=code)
    url = await _concern(client, world, code)
    concern_id = uuid.UUID(url.rsplit("/", 1)[1])
    raw = await raw_rows(db, "concerns", id=concern_id)
    assert_no_marker(raw)
    for column in ("subject_given_name", "description", "decision_reason"):
        assert raw[0][column] is None and raw[0][f"{column}_enc"].startswith("v1."), column
    read = (await client.get(url, headers=world.police.headers)).json()
    assert read["subject"]["given_name"] == f"{MARK}Given"
    assert read["description"] == CONCERN["description"]
    assert read["decision_reason"] == f"{MARK} threat is real"
    listed = await client.get(
        "/api/v1/concerns", params={"box": "inbox"}, headers=world.police.headers
    )
    assert CONCERN["description"] in listed.text
    # The case the concern went into is shredded: the concern is no case's.
    await shred_case_key(db, uuid.UUID(read["case_id"]))
    await db.commit()
    again = (await client.get(url, headers=world.police.headers)).json()
    assert again["description"] == CONCERN["description"]


async def test_version_reasons_are_sealed_and_facts_reasons_go_with_the_case(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    police = world.police
    case = await open_case(client, police, world.marak)
    created = await record_person(
        client, police, case["id"], identity_code=new_code(), address={"street": "Kuja 1"}
    )
    person_id = created["person"]["id"]
    r = await client.patch(
        f"/api/v1/persons/{person_id}",
        json={"reason": f"{MARK} misspelt", "case_id": case["id"], "family_name": "Uusi"},
        headers=with_etag(police, created["etag"]),
    )
    assert r.status_code == 200, r.text
    facts = f"/api/v1/cases/{case['id']}/persons/{person_id}/facts"
    current = await client.get(facts, headers=police.headers)
    r = await client.patch(
        facts,
        json={"reason": f"{MARK} moved", "address": {"street": "Kuja 2"}},
        headers=with_etag(police, current.headers["etag"]),
    )
    assert r.status_code == 200, r.text
    versions = await raw_rows(db, "person_versions", person_id=uuid.UUID(person_id))
    fact_versions: list[dict[str, Any]] = []
    for row in await raw_rows(db, "person_case_facts", person_id=uuid.UUID(person_id)):
        facts_id = uuid.UUID(str(row["id"]))
        fact_versions += await raw_rows(db, "person_case_fact_versions", facts_id=facts_id)
    assert_no_marker(versions + fact_versions)
    assert all(v["reason_enc"].startswith("v1.") for v in versions)
    assert all(v["reason_enc"].startswith("c1.") for v in fact_versions)
    history = await client.get(f"/api/v1/persons/{person_id}/history", headers=police.headers)
    assert f"{MARK} misspelt" in [v["reason"] for v in history.json()["versions"]]
    r = await client.get(f"{facts}/history", headers=police.headers)
    assert f"{MARK} moved" in [v["reason"] for v in r.json()["versions"]]

    await shred_case_key(db, uuid.UUID(case["id"]))
    await db.commit()
    assert_problem(await client.get(f"{facts}/history", headers=police.headers), 410)
    # The identity's versions are no case's: they still read.
    history = await client.get(f"/api/v1/persons/{person_id}/history", headers=police.headers)
    assert f"{MARK} misspelt" in [v["reason"] for v in history.json()["versions"]]


async def test_legacy_concern_and_version_text_reads_until_rotate_seals_it(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    settings: Settings,
) -> None:
    code = new_code()
    case = await open_case(client, world.police, world.marak)
    created = await record_person(client, world.police, case["id"], identity_code=code)
    person_id = uuid.UUID(created["person"]["id"])
    url = await _concern(client, world, code)
    concern_id = uuid.UUID(url.rsplit("/", 1)[1])
    old = {"description_plain": f"{MARK} old concern", "description_enc": None}
    await db.execute(update(Concern).where(Concern.id == concern_id).values(**old))
    await db.execute(
        update(PersonVersion)
        .where(PersonVersion.person_id == person_id)
        .values(reason_plain=f"{MARK} old reason", reason_enc=None)
    )
    await db.commit()
    db.expire_all()
    before = (await client.get(url, headers=world.police.headers)).json()
    assert before["description"] == f"{MARK} old concern"
    assert (await count_values(db, Base.metadata))[PLAINTEXT] >= 2

    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, load_keyring(settings))
    assert result.per_table.get("concerns", 0) >= 1
    assert result.per_table.get("person_versions", 0) >= 1
    raw = await raw_rows(db, "concerns", id=concern_id)
    raw += await raw_rows(db, "person_versions", person_id=person_id)
    assert_no_marker(raw)
    assert raw[0]["description"] is None and raw[0]["description_enc"].startswith("v1.")
    assert PLAINTEXT not in await count_values(db, Base.metadata)
    after = (await client.get(url, headers=world.police.headers)).json()
    assert after == before  # same text, same version: sealing is not an edit

"""Free text at rest in risk assessments and plans (issue 15): sealed on write,
moved by ``keys rotate`` from rows written before 0021, gone with the case key.
See tests/security/test_data_at_rest.py for notes, minutes and grants."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.service import shred_case_key
from app.ops.keyrotation import rotate
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.cases.factories import make_case
from tests.plans.factories import MarakCase, agree, api_plan, ensure_plan, plan_etag
from tests.problems import assert_problem
from tests.risk import answers
from tests.risk.factories import assess, make_assessment
from tests.security.at_rest import MARK, assert_no_marker, raw_rows
from tests.world import World, with_etag

# --- risk assessments: the answers' free text -----------------------------------------


async def test_assessment_free_text_is_sealed_and_legacy_inline_text_is_moved(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    case = marak.case
    payload = answers.marak(2)
    payload["answers"][0]["source"] = f"{MARK} the neighbour"
    created = await assess(client, world.police, case.id, payload, submit=False)
    assert created["answers"][0]["source"] == f"{MARK} the neighbour"
    raw = await raw_rows(db, "assessments", id=uuid.UUID(created["id"]))
    assert_no_marker(raw)
    assert raw[0]["answer_text_enc"].startswith(f"c1.{case.id.hex}.")
    # A PATCH without answers keeps the sealed text.
    url = f"/api/v1/assessments/{created['id']}"
    r = await client.patch(
        url, json={"judgement": {}}, headers=with_etag(world.police, f'"{created["version"]}"')
    )
    assert r.status_code == 200, r.text
    assert r.json()["answers"][0]["source"] == f"{MARK} the neighbour"

    # A row from before 0021: the free text inline in the answers, nothing sealed.
    legacy = await make_assessment(db, case, world.police)
    legacy.answers = [{**legacy.answers[0], "source": f"{MARK} old"}, *legacy.answers[1:]]
    await db.commit()
    old_url = f"/api/v1/assessments/{legacy.id}"
    r = await client.get(old_url, headers=world.police.headers)
    assert r.status_code == 200 and r.json()["answers"][0]["source"] == f"{MARK} old"

    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, load_keyring(settings))
    assert result.per_table.get("assessments", 0) >= 1
    raw = await raw_rows(db, "assessments", id=legacy.id)
    assert_no_marker(raw)
    assert raw[0]["answer_text_enc"].startswith("c1.")
    r = await client.get(old_url, headers=world.police.headers)
    assert r.status_code == 200 and r.json()["answers"][0]["source"] == f"{MARK} old"

    await shred_case_key(db, case.id)
    await db.commit()
    assert_problem(await client.get(url, headers=world.police.headers), 410)
    listed = await client.get(f"/api/v1/cases/{case.id}/assessments", headers=world.police.headers)
    assert listed.status_code == 200  # the history holds no free text: it still lists


async def test_shredding_drops_inline_answer_text_not_yet_rotated(
    db: AsyncSession, world: World, marak: MarakCase
) -> None:
    legacy = await make_assessment(db, marak.case, world.police)
    legacy.answers = [{**legacy.answers[0], "note": f"{MARK} old"}, *legacy.answers[1:]]
    await db.commit()
    result = await shred_case_key(db, marak.case.id)
    await db.commit()
    assert result.legacy_values >= 1
    raw = await raw_rows(db, "assessments", id=legacy.id)
    assert_no_marker(raw)
    assert raw[0]["answer_text_enc"].startswith(f"c1.{marak.case.id.hex}.")


# --- plans: the internal note and the review note ----------------------------------------


async def test_plan_notes_are_sealed_revised_and_legacy_ones_move(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    cid = marak.case.id
    created = await api_plan(client, world.police, cid, internal_note=f"{MARK} police records")
    assert created["current"]["internal_note"] == f"{MARK} police records"
    r = await client.post(
        f"/api/v1/cases/{cid}/plan/review",
        json={"note": f"{MARK} going well", "next_review_at": "2030-01-01T00:00:00Z"},
        headers={**world.police.headers, "If-Match": created["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["last_review_note"] == f"{MARK} going well"
    assert (await agree(client, world.police, cid)).status_code == 200
    r = await client.post(
        f"/api/v1/cases/{cid}/plan/revisions",
        json={"reason": "New facts."},
        headers={**world.police.headers, "If-Match": await plan_etag(client, world.police, cid)},
    )
    assert r.status_code == 201, r.text
    assert r.json()["current"]["internal_note"] == f"{MARK} police records"  # copied, resealed
    plan_id = uuid.UUID(created["id"])
    assert_no_marker(await raw_rows(db, "plans", id=plan_id))
    versions = await raw_rows(db, "plan_versions", plan_id=plan_id)
    assert len(versions) == 2
    assert_no_marker(versions)
    assert all(v["internal_note_enc"].startswith(f"c1.{cid.hex}.") for v in versions)

    # A plan from before 0021 (tests/plans/factories.py writes the plaintext column).
    other_case = await make_case(db, world.marak, world.police)
    other = other_case.id
    plan, _ = await ensure_plan(db, other_case)
    await db.commit()
    old = await raw_rows(db, "plan_versions", plan_id=plan.id)
    assert old[0]["internal_note"] and old[0]["internal_note_enc"] is None
    result = await rotate(
        Database.bound_to(connection).sessionmaker, Base.metadata, load_keyring(settings)
    )
    assert result.per_table.get("plan_versions", 0) >= 1
    moved = await raw_rows(db, "plan_versions", plan_id=plan.id)
    assert moved[0]["internal_note"] is None
    assert moved[0]["internal_note_enc"].startswith(f"c1.{other.hex}.")

    await shred_case_key(db, cid)
    await db.commit()
    assert_problem(await client.get(f"/api/v1/cases/{cid}/plan", headers=world.police.headers), 410)

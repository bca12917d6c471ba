"""The judgement's free text at rest (revision 0026, issue 15): the text-kind
fields of an assessment's judgement sealed under the case key on write, the
codes left plain for scoring and the lifecycle gates (which hold no key); rows
from before 0026 (texts inline) read, are counted by ``keys status`` and split
and sealed by ``keys rotate``; shredding leaves nothing of them readable."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.freetext import JSON_DICT_SPLIT, LEGACY_JSON_DICT_TEXT
from app.casekeys.service import shred_case_key
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from app.risk import config as risk_config
from app.risk.evaluation import live_marak_outcome
from app.risk.models import Assessment
from tests.plans.factories import MarakCase
from tests.problems import assert_problem
from tests.risk import answers
from tests.risk.factories import assess
from tests.security.at_rest import MARK, assert_no_marker, raw_rows
from tests.world import World, with_etag

REASONS = f"{MARK} he showed her the knife"
ONE = "/api/v1/assessments/{}"


def test_the_judgement_is_a_legacy_json_dict_with_a_registered_splitter() -> None:
    assert LEGACY_JSON_DICT_TEXT["assessments"][:2] == ("judgement", "judgement_text_enc")
    assert "assessments" in JSON_DICT_SPLIT


async def _referred_on_judgement(
    client: httpx.AsyncClient, world: World, case_id: uuid.UUID
) -> dict[str, Any]:
    payload = answers.marak(2, professional_judgement="refer_high_risk", judgement_reasons=REASONS)
    created = await assess(client, world.police, case_id, payload)
    assert created["judgement"] == payload["judgement"]  # read back as written
    return created


def _stored_judgement(row: dict[str, Any]) -> dict[str, Any]:
    value = row["judgement"]
    return dict(json.loads(value) if isinstance(value, str) else value)


async def test_sealed_on_write_codes_stay_and_the_keyless_gate_still_sees_the_reasons(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> None:
    case = marak.case
    created = await _referred_on_judgement(client, world, case.id)
    raw = await raw_rows(db, "assessments", id=uuid.UUID(created["id"]))
    assert_no_marker(raw)
    assert raw[0]["judgement_text_enc"].startswith(f"c1.{case.id.hex}.")
    assert _stored_judgement(raw[0]) == {
        "professional_judgement": "refer_high_risk",
        "judgement_reasons": None,  # given, sealed
    }
    r = await client.get(ONE.format(created["id"]), headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["judgement"]["judgement_reasons"] == REASONS
    assert r.json()["referral_criteria_met"] is True
    # What the referral gate evaluates, without any key: the reasons count as given.
    _latest, outcome = await live_marak_outcome(db, case.id, clock.today(), risk_config.current())
    judged = next(c for c in outcome.criteria if c.criterion == "professional_judgement")
    assert judged.met and judged.facts["reasons_given"] is True


async def test_a_draft_keeps_its_sealed_text_through_a_patch_and_submits(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> None:
    payload = answers.marak(1, professional_judgement="refer_high_risk", judgement_reasons=REASONS)
    draft = await assess(client, world.police, marak.case.id, payload, submit=False)
    url = ONE.format(draft["id"])
    r = await client.patch(
        url,
        json={"answers": payload["answers"]},
        headers=with_etag(world.police, f'"{draft["version"]}"'),
    )
    assert r.status_code == 200, r.text
    assert r.json()["judgement"] == payload["judgement"]
    assert_no_marker(await raw_rows(db, "assessments", id=uuid.UUID(draft["id"])))
    r = await client.post(
        f"{url}/submit", headers=with_etag(world.police, f'"{r.json()["version"]}"')
    )
    assert r.status_code == 200, r.text
    assert r.json()["referral_criteria_met"] is True
    assert r.json()["judgement"]["judgement_reasons"] == REASONS


async def make_legacy(db: AsyncSession, assessment_id: uuid.UUID, reasons: str) -> None:
    """The row as written before 0026: the text inline, nothing sealed (a core UPDATE:
    the ORM refuses to change a submitted assessment)."""
    inline = {"professional_judgement": "refer_high_risk", "judgement_reasons": reasons}
    await db.execute(
        update(Assessment.__table__)  # type: ignore[arg-type]
        .where(Assessment.__table__.c.id == assessment_id)
        .values(judgement=inline, judgement_text_enc=None)
    )
    await db.commit()


async def test_legacy_inline_text_reads_is_counted_and_rotate_seals_it(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    created = await _referred_on_judgement(client, world, marak.case.id)
    aid = uuid.UUID(created["id"])
    await make_legacy(db, aid, f"{MARK} old reasons")
    url = ONE.format(aid)
    r = await client.get(url, headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["judgement"]["judgement_reasons"] == f"{MARK} old reasons"
    before = (await count_values(db, Base.metadata)).get(PLAINTEXT, 0)
    assert before >= 1

    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, load_keyring(settings))
    assert result.per_table.get("assessments", 0) >= 1
    raw = await raw_rows(db, "assessments", id=aid)
    assert_no_marker(raw)
    assert raw[0]["judgement_text_enc"].startswith(f"c1.{marak.case.id.hex}.")
    assert _stored_judgement(raw[0])["judgement_reasons"] is None
    assert _stored_judgement(raw[0])["professional_judgement"] == "refer_high_risk"
    assert PLAINTEXT not in await count_values(db, Base.metadata)
    r = await client.get(url, headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["judgement"] == {
        "professional_judgement": "refer_high_risk",
        "judgement_reasons": f"{MARK} old reasons",
    }


async def test_shredding_destroys_sealed_and_legacy_judgement_text(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> None:
    sealed = await _referred_on_judgement(client, world, marak.case.id)
    legacy = await _referred_on_judgement(client, world, marak.case.id)
    await make_legacy(db, uuid.UUID(legacy["id"]), f"{MARK} old reasons")
    result = await shred_case_key(db, marak.case.id)
    await db.commit()
    assert result.legacy_values >= 1
    for made in (sealed, legacy):
        raw = await raw_rows(db, "assessments", id=uuid.UUID(made["id"]))
        assert_no_marker(raw)
        assert raw[0]["judgement_text_enc"].startswith(f"c1.{marak.case.id.hex}.")
        assert _stored_judgement(raw[0])["professional_judgement"] == "refer_high_risk"
        assert_problem(await client.get(ONE.format(made["id"]), headers=world.police.headers), 410)
    listed = await client.get(
        f"/api/v1/cases/{marak.case.id}/assessments", headers=world.police.headers
    )
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2

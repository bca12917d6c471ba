"""Personal free text at rest (issue 15, "guard the seams").

- Every String/Text/JSON column is classified (app/casekeys/inventory.py):
  sealed, the plaintext twin of a sealed column (emptied by ``keys rotate``),
  or allowed in plain text with a reason; known gaps are marked as such.
- Case notes, meeting minutes and emergency grants are sealed under the case's
  data key: right after the POST the raw row holds no plaintext; after
  ``shred_case_key`` nothing of them opens and no column holds the text,
  while another case's notes still read.
- Plaintext written before revision 0021 reads until ``keys rotate`` seals it
  under the case key and empties the plaintext column; shredding empties it too.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, MetaData, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.freetext import LEGACY_JSON_TEXT, LEGACY_PLAINTEXT, SHREDDED_TEXT
from app.casekeys.inventory import GAP, PLAIN, gaps, stale, unclassified
from app.casekeys.service import CASE_SEALED, FIELD_SEALED, open_stored, shred_case_key
from app.cases.models import CaseNote
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.platform.config import Settings
from app.platform.crypto import CaseDataShredded, EncryptedText, FieldContext, load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.cases.factories import add_grant, add_note, make_case
from tests.plans.factories import (
    MarakCase,
    marak_case,
)
from tests.problems import assert_problem
from tests.security.at_rest import MARK, assert_no_marker, raw_rows
from tests.world import World, with_etag

# --- the inventory -----------------------------------------------------------------------


def test_every_text_column_is_classified() -> None:
    missing = unclassified(Base.metadata)
    assert not missing, (
        "These text columns are not classified. Seal them (EncryptedText under the case "
        "or field key, app/casekeys/service.py) or add them to PLAIN in "
        f"app/casekeys/inventory.py with why they hold no personal free text: {missing}"
    )
    assert not stale(Base.metadata), (
        f"PLAIN names columns that are gone or sealed: {stale(Base.metadata)}"
    )


def test_a_new_unclassified_column_fails_the_inventory() -> None:
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table("case_notes", metadata, Column("aside", Text), extend_existing=True)
    assert unclassified(metadata) == ["case_notes.aside"]


def test_legacy_plaintext_columns_have_a_sealed_twin_and_a_case() -> None:
    for name, pairs in LEGACY_PLAINTEXT.items():
        table = Base.metadata.tables[name]
        assert name in CASE_SEALED or name in FIELD_SEALED, name
        for plain, enc in pairs.items():
            assert isinstance(table.c[enc].type, EncryptedText), f"{name}.{enc}"
            assert table.c[plain].nullable, f"{name}.{plain} must be nullable (emptied)"
            assert f"{name}.{plain}" not in PLAIN


def test_legacy_json_text_has_a_sealed_twin() -> None:
    for name, (column, enc, _, _) in LEGACY_JSON_TEXT.items():
        table = Base.metadata.tables[name]
        assert isinstance(table.c[enc].type, EncryptedText), f"{name}.{enc}"
        assert name in CASE_SEALED and "case_id" in table.c
        assert f"{name}.{column}" in PLAIN and not PLAIN[f"{name}.{column}"].startswith(GAP)


def test_the_gaps_are_marked_and_the_sealed_ones_are_not_in_them() -> None:
    assert all(why.startswith(GAP) for why in gaps().values())
    for name, pairs in LEGACY_PLAINTEXT.items():
        for plain in pairs:
            assert f"{name}.{plain}" not in gaps()


# --- helpers --------------------------------------------------------------------------------


async def write_all(
    client: httpx.AsyncClient, db: AsyncSession, world: World, case_id: uuid.UUID
) -> dict[str, Any]:
    """A note and its correction, minutes at a meeting, an emergency grant with a review."""
    police = world.police
    notes = f"/api/v1/cases/{case_id}/notes"
    r = await client.post(
        notes, json={"kind": "fact", "text": f"{MARK} hit"}, headers=police.headers
    )
    assert r.status_code == 201, r.text
    assert MARK in r.json()["text"]
    note_id = r.json()["id"]
    body = {
        "kind": "fact",
        "text": f"{MARK} kicked",
        "corrects_id": note_id,
        "correction_reason": f"{MARK} misheard",
    }
    r = await client.post(notes, json=body, headers=police.headers)
    assert r.status_code == 201, r.text
    assert r.json()["correction_reason"] == f"{MARK} misheard"
    correction_id = r.json()["id"]

    r = await client.post(
        "/api/v1/meetings",
        json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
        headers=world.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    meeting_id = r.json()["id"]
    agenda = f"/api/v1/meetings/{meeting_id}/agenda"
    r = await client.post(agenda, json={"case_id": str(case_id)}, headers=world.coordinator.headers)
    assert r.status_code == 201, r.text
    minutes = f"/api/v1/meetings/{meeting_id}/minutes"
    for entry in (
        {"kind": "shared", "information_kind": "fact", "text": f"{MARK} two call-outs"},
        {"kind": "not_shared", "text": f"{MARK} records", "reason": f"{MARK} no consent"},
    ):
        r = await client.post(
            minutes, json={"case_id": str(case_id), **entry}, headers=police.headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["text"] == entry["text"]

    grant_reason = f"{MARK} imminent danger reported tonight"
    r = await client.post(
        f"/api/v1/cases/{case_id}/emergency-access",
        json={"reason": grant_reason},
        headers=world.outsider_police.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == grant_reason
    grant_id = r.json()["id"]
    one = await client.get(f"/api/v1/emergency-access/{grant_id}", headers=world.auditor.headers)
    r = await client.post(
        f"/api/v1/emergency-access/{grant_id}/review",
        json={"finding": "justified", "note": f"{MARK} call log matches"},
        headers=with_etag(world.auditor, one.headers["etag"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["review_note"] == f"{MARK} call log matches"
    return {
        "notes": notes,
        "note": note_id,
        "correction": correction_id,
        "minutes": minutes,
        "grant": grant_id,
    }


async def all_raw(db: AsyncSession, case_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = []
    for table in ("case_notes", "meeting_minutes", "emergency_grants"):
        found = await raw_rows(db, table, case_id=case_id)
        assert found, table
        rows += found
    return rows


# --- sealed on write, gone after shredding --------------------------------------------------


async def test_free_text_is_sealed_at_rest_and_goes_with_the_case_key(
    client: httpx.AsyncClient, db: AsyncSession, world: World, settings: Settings
) -> None:
    case_a = (await marak_case(db, world, status="monitoring")).case.id
    other = (await make_case(db, world.marak, world.police)).id
    await db.commit()
    ids = await write_all(client, db, world, case_a)
    r = await client.post(
        f"/api/v1/cases/{other}/notes",
        json={"kind": "fact", "text": "Other case: calm."},
        headers=world.police.headers,
    )
    assert r.status_code == 201, r.text
    other_note = r.json()["id"]

    # Right after the writes: no column of any row holds the text; it is sealed (c1).
    rows = await all_raw(db, case_a)
    assert_no_marker(rows)
    keyring = load_keyring(settings)
    notes = (await db.scalars(select(CaseNote).where(CaseNote.case_id == case_a))).all()
    for note in notes:
        assert note.text_plain is None and note.text_enc is not None
        assert note.text_enc.case_id == case_a
        opened = await open_stored(db, keyring, note.text_enc, FieldContext.of(note, "text_enc"))
        assert MARK in opened
    # The reads are what they were.
    listed = await client.get(ids["notes"], headers=world.police.headers)
    assert listed.status_code == 200, listed.text
    texts = {n["text"] for n in listed.json()["items"]}
    assert texts == {f"{MARK} hit", f"{MARK} kicked"}

    await shred_case_key(db, case_a)
    await db.commit()

    rows = await all_raw(db, case_a)
    assert_no_marker(rows)
    db.expire_all()
    for note in (await db.scalars(select(CaseNote).where(CaseNote.case_id == case_a))).all():
        with pytest.raises(CaseDataShredded):
            await open_stored(db, keyring, note.text_enc, FieldContext.of(note, "text_enc"))
    # Notes answer like shredded facts: 410.
    assert_problem(await client.get(ids["notes"], headers=world.police.headers), 410)
    one = await client.get(f"{ids['notes']}/{ids['note']}", headers=world.police.headers)
    assert_problem(one, 410)
    # Lists that span cases mark the shredded case's lines instead of failing.
    minutes = await client.get(ids["minutes"], headers=world.police.headers)
    assert minutes.status_code == 200, minutes.text
    assert {m["text"] for m in minutes.json()} == {SHREDDED_TEXT}
    assert {m["reason"] for m in minutes.json()} == {None, SHREDDED_TEXT}
    grant = await client.get(
        f"/api/v1/emergency-access/{ids['grant']}", headers=world.auditor.headers
    )
    assert grant.status_code == 200, grant.text
    assert grant.json()["reason"] == SHREDDED_TEXT
    assert grant.json()["review_note"] == SHREDDED_TEXT
    # Another case's notes still read.
    r = await client.get(f"/api/v1/cases/{other}/notes/{other_note}", headers=world.police.headers)
    assert r.status_code == 200 and r.json()["text"] == "Other case: calm."


# --- plaintext from before 0021 ----------------------------------------------------------


async def test_legacy_plaintext_reads_then_rotate_seals_it_and_empties_the_plaintext(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    case = marak.case
    note = await add_note(db, case, world.police, text=f"{MARK} old note")  # plain, as before
    grant = await add_grant(db, case, world.outsider_police)
    await db.commit()
    raw = await raw_rows(db, "case_notes", id=note.id)
    assert raw[0]["text"] == f"{MARK} old note" and raw[0]["text_enc"] is None
    url = f"/api/v1/cases/{case.id}/notes/{note.id}"
    before = await client.get(url, headers=world.police.headers)
    assert before.status_code == 200 and before.json()["text"] == f"{MARK} old note"

    keyring = load_keyring(settings)
    counts = await count_values(db, Base.metadata)
    assert counts[PLAINTEXT] >= 2  # the note and the grant's reason

    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, keyring)
    assert result.plaintext_sealed >= 2
    assert result.per_table.get("case_notes", 0) >= 1
    assert result.per_table.get("emergency_grants", 0) >= 1

    raw = await raw_rows(db, "case_notes", id=note.id)
    assert_no_marker(raw)
    assert raw[0]["text"] is None and raw[0]["text_enc"].startswith(f"c1.{case.id.hex}.")
    grant_raw = await raw_rows(db, "emergency_grants", id=grant.id)
    assert grant_raw[0]["reason"] is None and grant_raw[0]["reason_enc"].startswith("c1.")
    assert PLAINTEXT not in await count_values(db, Base.metadata)
    after = await client.get(url, headers=world.police.headers)
    assert after.status_code == 200, after.text
    assert after.json()["text"] == f"{MARK} old note"
    assert after.json()["version"] == before.json()["version"]  # sealing is not an edit
    again = await rotate(sessions, Base.metadata, keyring)
    assert again.plaintext_sealed == 0  # idempotent


async def test_shredding_empties_plaintext_not_yet_rotated(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> None:
    case = marak.case
    note = await add_note(db, case, world.police, text=f"{MARK} old note")
    grant = await add_grant(db, case, world.outsider_police)
    await db.commit()
    result = await shred_case_key(db, case.id)
    await db.commit()
    assert result.legacy_values >= 2
    assert_no_marker(await raw_rows(db, "case_notes", id=note.id))
    grant_raw = await raw_rows(db, "emergency_grants", id=grant.id)
    assert grant_raw[0]["reason"] is None
    assert "night shift" not in str(grant_raw[0])
    url = f"/api/v1/cases/{case.id}/notes/{note.id}"
    assert_problem(await client.get(url, headers=world.police.headers), 410)

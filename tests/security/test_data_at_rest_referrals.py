"""Referrals' and consents' free text at rest (issue 15, revision 0025).

Sealed under the case's data key on write (the raw rows hold no plaintext,
the API reads as before, the provider's inbox and FHIR views too); after
``shred_case_key`` nothing of it opens, a shredded referral still answers with
SHREDDED_TEXT (what was shared already read as null), and another case's
referral still reads. Text written before 0025 reads until ``keys rotate``
seals it; shredding empties it. Concerns and versions: test_data_at_rest_people.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.freetext import SHREDDED_TEXT
from app.casekeys.service import shred_case_key
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.persons.models import Consent
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from app.referrals.models import Referral, ReferralEvent
from tests.referrals.conftest import API, ReferralWorld, build_referral_world, moved, sent
from tests.security.at_rest import MARK, assert_no_marker, raw_rows
from tests.world import TokenFactory


@pytest.fixture
async def rw(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    return await build_referral_world(db, tokens)


TEXTS = {
    "reason": f"{MARK} beaten at home",
    "note_to_provider": f"{MARK} call only after six",
}


async def _written(client: httpx.AsyncClient, rw: ReferralWorld) -> dict[str, Any]:
    """A referral sent with marked texts, put on hold with a marked reason, and a
    consent with a marked reference and withdrawal note."""
    ref = await sent(client, rw, **TEXTS)
    ref = await moved(client, rw.provider, ref, "received")
    ref = await moved(client, rw.provider, ref, "on_hold", reason_text=f"{MARK} on hold")
    consents = f"{API}/persons/{rw.victim.id}/consents"
    body = {
        "case_id": str(rw.case.id),
        "basis": "consent",
        "scope": "service_referral",
        "service_name": rw.service.name,
        "given_by": "person",
        "method": "written",
        "reference": f"{MARK} signed",
    }
    r = await client.post(consents, json=body, headers=rw.lead.headers)
    assert r.status_code == 201 and r.json()["reference"] == f"{MARK} signed", r.text
    withdrawal = {"note": f"{MARK} fears he reads it"}
    url = f"{consents}/{r.json()['id']}/withdrawal"
    r = await client.post(url, json=withdrawal, headers=rw.lead.headers)
    assert r.status_code == 200 and r.json()["withdrawal_note"] == withdrawal["note"], r.text
    return ref


async def _raw(db: AsyncSession, rw: ReferralWorld) -> list[dict[str, Any]]:
    referrals = await raw_rows(db, "referrals", case_id=rw.case.id)
    events = []
    for row in referrals:
        events += await raw_rows(db, "referral_events", referral_id=uuid.UUID(str(row["id"])))
    consents = await raw_rows(db, "person_consents", case_id=rw.case.id)
    return referrals + events + consents


async def test_referral_text_is_sealed_and_goes_with_the_case_key(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> None:
    rw = await build_referral_world(db, tokens)
    other = await build_referral_world(db, tokens)
    ref = await _written(client, rw)
    kept = await sent(client, other, reason="Other case: support agreed.")

    rows = await _raw(db, rw)
    assert_no_marker(rows)
    referral = next(r for r in rows if uuid.UUID(str(r["id"])) == uuid.UUID(ref["id"]))
    assert referral["reason"] is None and referral["reason_enc"].startswith(f"c1.{rw.case.id.hex}.")
    assert referral["reason_text_enc"].startswith("c1.")
    # Both sides read as before: the referrer everything, the provider its part.
    url = f"{API}/referrals/{ref['id']}"
    full = (await client.get(url, headers=rw.lead.headers)).json()
    assert full["reason"] == TEXTS["reason"] and full["reason_text"] == f"{MARK} on hold"
    assert [e["reason_text"] for e in full["history"]][-1] == f"{MARK} on hold"
    box = {"box": "inbox"}
    inbox = await client.get(f"{API}/referrals", params=box, headers=rw.provider.headers)
    assert inbox.json()["items"][0]["note_to_provider"] == TEXTS["note_to_provider"]
    fhir = await client.get(f"/fhir/R4/ServiceRequest/{ref['id']}", headers=rw.provider.headers)
    assert fhir.status_code == 200 and TEXTS["note_to_provider"] in fhir.text
    task = await client.get(f"/fhir/R4/Task/{ref['id']}", headers=rw.provider.headers)
    assert task.status_code == 200 and f"{MARK} on hold" in task.text

    await shred_case_key(db, rw.case.id)
    await db.commit()

    assert_no_marker(await _raw(db, rw))
    for actor in (rw.lead, rw.provider):
        r = await client.get(url, headers=actor.headers)
        assert r.status_code == 200, r.text
        assert MARK not in r.text
        assert r.json()["reason_text"] == SHREDDED_TEXT
        assert r.json()["note_to_provider"] == SHREDDED_TEXT
    full = (await client.get(url, headers=rw.lead.headers)).json()
    assert full["reason"] == SHREDDED_TEXT
    assert {e["reason_text"] for e in full["history"]} == {None, SHREDDED_TEXT}
    for kind in ("ServiceRequest", "Task"):
        r = await client.get(f"/fhir/R4/{kind}/{ref['id']}", headers=rw.provider.headers)
        assert r.status_code == 200 and MARK not in r.text
    consents = await client.get(f"{API}/persons/{rw.victim.id}/consents", headers=rw.lead.headers)
    assert consents.status_code == 200 and MARK not in consents.text
    assert SHREDDED_TEXT in {c["reference"] for c in consents.json()["items"]}
    # Another case's referral still reads.
    r = await client.get(f"{API}/referrals/{kept['id']}", headers=other.lead.headers)
    assert r.status_code == 200 and r.json()["reason"] == "Other case: support agreed."


async def _make_legacy(db: AsyncSession, rw: ReferralWorld, ref: dict[str, Any]) -> None:
    """Rewrite the referral's texts as before revision 0025 (plain, nothing sealed)."""
    rid = uuid.UUID(ref["id"])
    plain = {
        "reason_plain": f"{MARK} old reason",
        "reason_enc": None,
        "note_to_provider_plain": f"{MARK} old note",
        "note_to_provider_enc": None,
    }
    await db.execute(update(Referral).where(Referral.id == rid).values(**plain))
    await db.execute(
        update(ReferralEvent)
        .where(ReferralEvent.referral_id == rid)
        .values(reason_text_plain=f"{MARK} old event", reason_text_enc=None)
    )
    await db.execute(
        update(Consent)
        .where(Consent.id == rw.consent.id)
        .values(reference_plain=f"{MARK} old ref", reference_enc=None)
    )
    await db.commit()


async def test_legacy_referral_text_reads_until_rotate_seals_it(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    rw: ReferralWorld,
    settings: Settings,
) -> None:
    ref = await sent(client, rw)
    await _make_legacy(db, rw, ref)
    assert MARK in str(await _raw(db, rw))
    url = f"{API}/referrals/{ref['id']}"
    before = (await client.get(url, headers=rw.lead.headers)).json()
    assert before["reason"] == f"{MARK} old reason"
    assert before["note_to_provider"] == f"{MARK} old note"
    assert f"{MARK} old event" in {e["reason_text"] for e in before["history"]}
    consents = f"{API}/persons/{rw.victim.id}/consents"
    assert f"{MARK} old ref" in (await client.get(consents, headers=rw.lead.headers)).text
    assert (await count_values(db, Base.metadata))[PLAINTEXT] >= 3

    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, load_keyring(settings))
    for table in ("referrals", "referral_events", "person_consents"):
        assert result.per_table.get(table, 0) >= 1, table
    assert_no_marker(await _raw(db, rw))
    assert PLAINTEXT not in await count_values(db, Base.metadata)
    after = (await client.get(url, headers=rw.lead.headers)).json()
    assert after["reason"] == before["reason"] and after["history"] == before["history"]
    assert after["version"] == before["version"]  # sealing is not an edit
    assert f"{MARK} old ref" in (await client.get(consents, headers=rw.lead.headers)).text


async def test_shredding_empties_referral_text_not_yet_rotated(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    ref = await sent(client, rw)
    await _make_legacy(db, rw, ref)
    result = await shred_case_key(db, rw.case.id)
    await db.commit()
    assert result.legacy_values >= 3
    assert_no_marker(await _raw(db, rw))
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.lead.headers)
    assert r.status_code == 200 and r.json()["reason"] == SHREDDED_TEXT

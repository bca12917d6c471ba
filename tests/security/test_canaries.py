"""Nothing protected rests in the clear: canaries in every sealed field, then the raw bytes.

A distinct canary string goes into every protected field of every domain through
the HTTP API (persons: address, phones, safe contact, the identity code -- a valid
code, scanned for as is; the plan's safe contact; the referral's shared values; the free
text of tests/security/canary_text.py, canaries_cases.py), each under an Idempotency-Key:

- the log records of those requests (formatted as app/platform/logs.py writes them);
- SQLite: the raw bytes of the database file *and* its ``-wal`` file. The test
  runs an app on its own file that commits for real (the shared test database
  rolls every test back, so its pages may never reach the file); both files are
  read while the app is still connected, so the WAL is scanned before any
  checkpoint, then again after the engine is disposed (checkpointed).
- Any database (PostgreSQL when ``CASECOORD_TEST_DATABASE_URL`` is set): the text of
  every row of every table, read inside the test's transaction (uncommitted rows too).

``SEALED`` names the canary of every :class:`~app.platform.crypto.EncryptedText` column;
a new sealed column without one fails :func:`test_every_sealed_column_has_a_canary`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.crypto import EncryptedText
from app.platform.db import Base
from app.platform.logs import JsonFormatter
from tests.conftest import _in_thread
from tests.persons.factories import new_code
from tests.referrals.conftest import API, ReferralWorld, build_referral_world
from tests.risk import answers
from tests.security.canaries_cases import CASE_CANARIES, CASE_SEALED, exercise_case_text
from tests.security.canary_text import TEXT_CANARIES, TEXT_SEALED, exercise_sealed_text
from tests.world import TokenFactory

CANARIES = {
    "address": "CanaryAddr Kivikuja 7Q",
    "phone": "+358 44 731 9926",
    "safe_times": "CanaryTimes after nine",
    "feared": "CanaryFeared stepfather",
    "not_safe_to_talk_to": "CanaryUnsafe uncle Olli",
    "safe_to_talk_to": "CanarySafe aunt Liisa",
    "city": "CanaryCity Korpela",
    "phone_label": "CanaryLabel work mobile",
    "moved": "CanaryMoved Uusitie 3",
    "plan_safe_number": "+358 50 482 1177",
    "plan_times": "CanaryPlanTimes mornings",
    "plan_method": "CanaryPlanMethod via shelter",
    "plan_feared": "CanaryPlanFeared ex-partner",
    "plan_safe": "CanaryPlanSafe neighbour",
    "plan_unsafe": "CanaryPlanUnsafe cousin",
    "note": "CanaryNote he hit her twice",
    "correction": "CanaryCorrection misheard",
    "grant_reason": "CanaryGrant imminent danger tonight",
    "grant_review": "CanaryReview call log matches",
    "minutes": "CanaryMinutes two call-outs",
    "minutes_reason": "CanaryWithheld no consent",
    "answer_source": "CanarySource the neighbour",
    "plan_internal": "CanaryInternal police records three call-outs",
    **CASE_CANARIES,  # 0024: the case's own free text
    **TEXT_CANARIES,
}
#: Every sealed column, and the canaries (or "code") that reach it through the API.
SEALED: dict[str, tuple[str, ...]] = {
    "persons.identity_code_enc": ("code",),
    # A boolean: no canary can go in; the person's canaries prove the envelope.
    "persons.non_disclosure_enc": (),
    # Identity versions: the snapshot holds the identity code (names are not sealed).
    "person_versions.snapshot_enc": ("code",),
    "person_case_facts.address_enc": ("moved", "city"),
    "person_case_facts.phones_enc": ("phone", "phone_label"),
    "person_case_facts.safe_contact_enc": (
        "safe_times", "feared", "safe_to_talk_to", "not_safe_to_talk_to",
    ),
    "person_case_fact_versions.snapshot_enc": ("address", "moved", "phone", "feared"),
    "plan_versions.safe_contact_enc": (
        "plan_safe_number", "plan_times", "plan_method", "plan_feared", "plan_safe", "plan_unsafe",
    ),
    "referrals.shared_enc": ("code", "phone"),
    "case_notes.text_enc": ("note",),
    "case_notes.correction_reason_enc": ("correction",),
    "emergency_grants.reason_enc": ("grant_reason",),
    "emergency_grants.review_note_enc": ("grant_review",),
    "meeting_minutes.text_enc": ("minutes",),
    "meeting_minutes.reason_enc": ("minutes_reason",),
    "assessments.answer_text_enc": ("answer_source",),
    "plan_versions.internal_note_enc": ("plan_internal",),
    # The review needs an agreed plan; tests/security/test_data_at_rest.py reads its raw row.
    "plans.last_review_note_enc": (),
    # So does a revision; tests/plans/test_plans.py reads its raw row and the audit log.
    "plan_versions.revision_reason_enc": (),
    # Webhook secrets: server-made, no input reaches them (tests/webhooks/test_subscriptions.py).
    "webhook_endpoints.secret_enc": (),
    "webhook_endpoints.previous_secret_enc": (), **CASE_SEALED, **TEXT_SEALED,
}  # fmt: skip


def sealed_columns() -> set[str]:
    return {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    }


def test_every_sealed_column_has_a_canary() -> None:
    assert sealed_columns() == set(SEALED), "give a new sealed column a canary in exercise()"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": f"canary-{key}"}


async def exercise(client: httpx.AsyncClient, rw: ReferralWorld, code: str) -> None:
    """Write every protected field the API takes, each create under an Idempotency-Key."""
    lead = rw.lead
    r = await client.post(
        f"{API}/persons",
        json={
            "case_id": str(rw.case.id),
            "role": "victim",
            "person": {
                "given_name": "Vilja",
                "family_name": "Virtanen",
                "identity_code": code,
                "non_disclosure": True,
                "address": {
                    "street": CANARIES["address"],
                    "city": CANARIES["city"],
                    "is_shelter": True,
                },
                "phones": [
                    {"number": CANARIES["phone"], "label": CANARIES["phone_label"]},
                ],
                "safe_contact": {
                    "safe_times": CANARIES["safe_times"],
                    "feared_persons": CANARIES["feared"],
                    "safe_to_talk_to": CANARIES["safe_to_talk_to"],
                    "not_safe_to_talk_to": CANARIES["not_safe_to_talk_to"],
                },
            },
        },
        headers=keyed(lead.headers, "person"),
    )
    assert r.status_code == 201, r.text
    person_id = r.json()["person"]["id"]
    r = await client.patch(
        f"{API}/persons/{person_id}",
        json={
            "reason": CANARIES["identity_reason"],
            "case_id": str(rw.case.id),
            "family_name": "Virtanen-Koski",
        },
        headers={**lead.headers, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    facts_url = f"{API}/cases/{rw.case.id}/persons/{person_id}/facts"
    current = await client.get(facts_url, headers=lead.headers)
    assert current.status_code == 200, current.text
    r = await client.patch(
        facts_url,
        json={
            "reason": CANARIES["facts_reason"],
            "address": {"street": CANARIES["moved"], "city": CANARIES["city"]},
        },
        headers={**lead.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"{API}/persons/{person_id}/consents",
        json={
            "case_id": str(rw.case.id),
            "basis": "consent",
            "scope": "service_referral",
            "service_name": rw.service.name,
            "given_by": "person",
            "method": "written",
        },
        headers=keyed(lead.headers, "consent"),
    )
    assert r.status_code == 201, r.text
    basis_id = r.json()["id"]
    safe_contact = {
        "number_is_safe": False,
        "safe_number": CANARIES["plan_safe_number"],
        "safe_times": CANARIES["plan_times"],
        "contact_method": CANARIES["plan_method"],
        "feared_persons": CANARIES["plan_feared"],
        "safe_to_talk_to": [CANARIES["plan_safe"]],
        "not_safe_to_talk_to": [CANARIES["plan_unsafe"]],
    }
    r = await client.post(
        f"{API}/cases/{rw.case.id}/plan",
        json={
            "summary": "Safety first.",
            "internal_note": CANARIES["plan_internal"],
            "safe_contact": safe_contact,
        },
        headers=keyed(lead.headers, "plan"),
    )
    assert r.status_code == 201, r.text
    assert CANARIES["plan_feared"] in r.text  # the creator may read the section
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json={
            "subject_person_id": person_id,
            "service_id": str(rw.service.id),
            "reason": "Needs support after the assault.",
            "urgency": "urgent",
            "shared_fields": ["name", "identity_code", "phone"],
            "basis_id": basis_id,
        },
        headers=keyed(lead.headers, "referral"),
    )
    assert r.status_code == 201, r.text
    referral = r.json()
    r = await client.post(
        f"{API}/referrals/{referral['id']}/transitions",
        json={"to": "requested"},
        headers={**lead.headers, "If-Match": f'"{referral["version"]}"'},
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"{API}/referrals/{referral['id']}", headers=rw.provider.headers)
    assert r.status_code == 200, r.text
    assert code in r.text and CANARIES["phone"] in r.text  # the shared values went
    await exercise_sealed_text(client, rw, code, person_id, basis_id)
    await exercise_free_text(client, rw, person_id)
    await exercise_case_text(client, rw)


async def exercise_free_text(client: httpx.AsyncClient, rw: ReferralWorld, person_id: str) -> None:
    """Case free text: a note and its correction, an emergency grant and its review,
    then (the case moved to monitoring and onto a meeting's agenda) minutes."""
    lead, world, case_id = rw.lead, rw.world, str(rw.case.id)
    notes = f"{API}/cases/{case_id}/notes"
    r = await client.post(
        notes, json={"kind": "fact", "text": CANARIES["note"]}, headers=keyed(lead.headers, "n")
    )
    assert r.status_code == 201, r.text
    correction = {
        "kind": "fact",
        "text": CANARIES["note"] + " and kicked",
        "corrects_id": r.json()["id"],
        "correction_reason": CANARIES["correction"],
    }
    r = await client.post(notes, json=correction, headers=keyed(lead.headers, "c"))
    assert r.status_code == 201, r.text
    checklist = answers.marak(1)
    checklist["answers"][0]["source"] = CANARIES["answer_source"]
    r = await client.post(
        f"{API}/cases/{case_id}/assessments", json=checklist, headers=keyed(lead.headers, "a")
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/cases/{case_id}/emergency-access",
        json={"reason": CANARIES["grant_reason"]},
        headers=keyed(world.outsider_police.headers, "g"),
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    r = await client.post(
        f"{API}/emergency-access/{grant['id']}/review",
        json={"finding": "justified", "note": CANARIES["grant_review"]},
        headers={**world.auditor.headers, "If-Match": f'"{grant["version"]}"'},
    )
    assert r.status_code == 200, r.text
    case = (await client.get(f"{API}/cases/{case_id}", headers=lead.headers)).json()
    r = await client.post(
        f"{API}/cases/{case_id}/transitions",
        json={"to": "monitoring"},
        headers={**lead.headers, "If-Match": f'"{case["version"]}"'},
    )
    assert r.status_code == 200, r.text
    coordinator = world.coordinator.headers
    for victim in (rw.victim.id, person_id):
        r = await client.post(
            f"{API}/persons/{victim}/consents",
            json={
                "case_id": case_id,
                "basis": "consent",
                "scope": "marak_sharing",
                "given_by": "person",
                "method": "written",
            },
            headers=keyed(lead.headers, f"marak-{victim}"),
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/cases/{case_id}/members",
        json={"user_id": str(world.coordinator.id)},
        headers=keyed(lead.headers, "member"),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/meetings",
        json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
        headers=keyed(coordinator, "m"),
    )
    assert r.status_code == 201, r.text
    meeting = f"{API}/meetings/{r.json()['id']}"
    r = await client.post(f"{meeting}/agenda", json={"case_id": case_id}, headers=coordinator)
    assert r.status_code == 201, r.text
    for key, entry in (
        ("ms", {"kind": "shared", "information_kind": "fact", "text": CANARIES["minutes"]}),
        ("mn", {"kind": "not_shared", "text": "Records.", "reason": CANARIES["minutes_reason"]}),
    ):
        r = await client.post(
            f"{meeting}/minutes",
            json={"case_id": case_id, **entry},
            headers=keyed(lead.headers, key),
        )
        assert r.status_code == 201, r.text


def assert_no_canary(blob: str, code: str, where: str) -> None:
    assert "Vilja" in blob, f"{where}: names are not sealed, so they prove the scan reads rows"
    leaked = [name for name, canary in CANARIES.items() if canary in blob]
    if code in blob:
        leaked.append("identity code")
    assert not leaked, f"plaintext at rest in {where}: {leaked}"


@pytest.fixture
async def file_app(tmp_path: Path, settings: Settings) -> AsyncIterator[tuple[Any, Path]]:
    """An app on its own SQLite file, committing for real (no rolled-back outer transaction)."""
    path = tmp_path / "canaries.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url))
    app = create_app(settings.model_copy(update={"database_url": url, "data_dir": tmp_path}))
    yield app, path
    await app.state.db.dispose()


def raw_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


async def test_sqlite_file_and_wal_hold_no_canary(
    file_app: tuple[Any, Path], tokens: TokenFactory
) -> None:
    app, path = file_app
    async with app.state.db.sessionmaker() as session:
        rw = await build_referral_world(session, tokens)
    code = new_code()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await exercise(client, rw, code)
    before = raw_bytes(path)  # still connected: the new pages sit in the WAL
    assert path.name + "-wal" in before and before[path.name + "-wal"], "no WAL to scan"
    assert_no_canary(before[path.name + "-wal"].decode("utf-8", "replace"), code, "the WAL")
    for name, raw in before.items():  # the file (and -shm) may not hold rows yet
        leaked = [n for n, c in CANARIES.items() if c.encode() in raw] + [code] * (
            code.encode() in raw
        )
        assert not leaked, f"plaintext at rest in {name}: {leaked}"
    await app.state.db.dispose()  # checkpoint the WAL into the main file
    after = raw_bytes(path)
    assert_no_canary(after[path.name].decode("utf-8", "replace"), code, path.name)
    assert b"v1." in after[path.name]  # the envelopes are there


async def test_rows_of_every_table_and_the_logs_hold_no_canary(
    client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL when CASECOORD_TEST_DATABASE_URL is set, else the shared SQLite database."""
    rw = await build_referral_world(db, tokens)
    code = new_code()
    with caplog.at_level(logging.DEBUG):
        await exercise(client, rw, code)
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert '"route": "/api/v1/persons"' in logged  # the access log was captured
    leaked = [n for n, c in CANARIES.items() if c in logged] + ["code"] * (code in logged)
    assert not leaked, f"plaintext in the logs: {leaked}"
    postgres = db.bind.dialect.name == "postgresql"
    dumped = []
    for table in Base.metadata.sorted_tables:
        name = table.name  # from the metadata, not from input
        sql = f'SELECT t::text FROM "{name}" t' if postgres else f'SELECT * FROM "{name}"'  # noqa: S608
        rows = (await db.execute(text(sql))).all()
        # str() of each value: a Row's repr truncates long values (a JSON body!).
        dumped.append(f"{name}: " + "\n".join(str(v) for row in rows for v in row))
    if postgres:
        large = await db.scalar(text("SELECT count(*) FROM pg_largeobject_metadata"))
        assert large == 0, "large objects are not scanned"
    assert_no_canary("\n".join(dumped), code, "table rows")

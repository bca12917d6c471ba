"""Nothing protected rests in the clear: canaries in every sealed field, then the raw bytes.

A distinct canary string goes into every protected field of every domain through
the HTTP API (persons: address, phones, safe contact with feared persons, the
identity code -- a valid code, scanned for as is; the plan's safe-contact
section; the referral's shared values after sending), every create under an
Idempotency-Key. Then:

- the log records of those requests (formatted as app/platform/logs.py writes them);
- SQLite: the raw bytes of the database file *and* its ``-wal`` file. The test
  runs an app on its own file that commits for real (the shared test database
  rolls every test back, so its pages may never reach the file); both files are
  read while the app is still connected, so the WAL is scanned before any
  checkpoint, then again after the engine is disposed (checkpointed).
- Any database (PostgreSQL when ``CASECOORD_TEST_DATABASE_URL`` is set): the text
  of every row of every table in the metadata, read inside the test's
  transaction, where the uncommitted rows are visible.

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
            "reason": "Spelling.",
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
            "reason": "Moved.",
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
        json={"summary": "Safety first.", "safe_contact": safe_contact},
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

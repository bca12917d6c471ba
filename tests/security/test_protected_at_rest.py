"""Protected fields never reach the database in the clear, and are bound to their place.

- The raw SQLite file (and its WAL) holds no canary from a protected field.
- ``SELECT`` of every table touched (PostgreSQL when the suite runs there)
  shows no canary either: not in the rows, the versions, the stored
  idempotent responses or the audit log.
- A ciphertext copied to another row, or another column, does not decrypt.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.service import case_cipher
from app.main import create_app
from app.ops.migrate import upgrade
from app.persons.models import PersonCaseFacts
from app.platform.config import Settings
from app.platform.crypto import DecryptionError, FieldContext, KeyRing
from tests.conftest import _in_thread
from tests.persons.factories import give_consent, new_code, person_body
from tests.world import TokenFactory, World, build_world, open_case, with_etag

CANARIES = {
    "street": "Canarystreet 9F2C",
    "phone": "+358 40 987 6543",
    "times": "Canarytimes after 17",
    "feared": "Canaryfeared brother-in-law",
    "moved": "Canarymoved 44",
}
TABLES = ("persons", "person_versions", "person_consents", "idempotency_keys", "audit_events",
          "concerns", "case_participants", "person_case_facts",
          "person_case_fact_versions")  # fmt: skip


def protected(code: str) -> dict[str, Any]:
    return person_body(
        identity_code=code,
        non_disclosure=True,
        address={"street": CANARIES["street"], "is_shelter": True},
        phones=[{"number": CANARIES["phone"], "safe_to_call": True}],
        safe_contact={"safe_times": CANARIES["times"], "feared_persons": CANARIES["feared"]},
    )


async def exercise(client: httpx.AsyncClient, world: World, code: str) -> str:
    """Write protected data every way the API allows; returns the person id."""
    case = await open_case(client, world.police, world.marak)
    r = await client.post(
        "/api/v1/persons",
        json={"case_id": case["id"], "role": "victim", "person": protected(code)},
        headers={**world.police.headers, "Idempotency-Key": "rest-test-1"},
    )
    assert r.status_code == 201, r.text
    person_id = str(r.json()["person"]["id"])
    url = f"/api/v1/persons/{person_id}"
    facts = f"/api/v1/cases/{case['id']}/persons/{person_id}/facts"
    r = await client.patch(
        facts,
        json={"reason": "Moved again.", "address": {"street": CANARIES["moved"]}},
        headers=with_etag(world.police, '"1"'),
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"{url}?case_id={case['id']}", headers=world.police.headers)
    assert r.json()["address"]["street"] == CANARIES["moved"]
    assert (await client.get(url + "/history", headers=world.police.headers)).status_code == 200
    assert (await client.get(facts + "/history", headers=world.police.headers)).status_code == 200
    await give_consent(client, world.police, person_id, case["id"])
    r = await client.post(
        "/api/v1/concerns",
        json={
            "team_id": str(world.marak.id),
            "subject": {"given_name": "Vilja", "family_name": "Virtanen", "identity_code": code},
            "description": "Neighbour heard threats again last night.",
            "legal_basis": "consent",
        },
        headers=world.health.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/persons/search", json={"identity_code": code}, headers=world.police.headers
    )
    assert len(r.json()["items"]) == 1
    return person_id


def assert_no_canary(blob: str, code: str) -> None:
    for name, canary in CANARIES.items():
        assert canary not in blob, f"plaintext {name} at rest"
    assert code not in blob, "plaintext identity code at rest"


@pytest.fixture
async def file_client(
    tmp_path: Path, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Path]]:
    """An app on its own SQLite file, committing for real."""
    path = tmp_path / "at-rest.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url))
    app = create_app(settings.model_copy(update={"database_url": url, "data_dir": tmp_path}))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, app, path
    await app.state.db.dispose()


async def test_sqlite_file_bytes_hold_no_plaintext(
    file_client: tuple[httpx.AsyncClient, Any, Path], tokens: TokenFactory
) -> None:
    client, app, path = file_client
    async with app.state.db.sessionmaker.begin() as session:
        world = await build_world(session, tokens)
    code = new_code()
    await exercise(client, world, code)
    await app.state.db.dispose()  # checkpoint the WAL into the file
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    blob = raw.decode("utf-8", "replace")
    assert "Vilja" in blob  # names are not protected: proves the bytes are readable
    assert_no_canary(blob, code)
    assert b"v1." in raw  # and the envelopes are there


async def test_selected_rows_hold_no_plaintext(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> None:
    """On PostgreSQL when CASECOORD_TEST_DATABASE_URL is set, else on SQLite."""
    world = await build_world(db, tokens)
    code = new_code()
    await exercise(client, world, code)
    dumped = []
    for table in TABLES:
        rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
        assert rows or table == "case_participants", table
        dumped.append("\n".join(str(v) for row in rows for v in row))  # repr truncates
    blob = "\n".join(dumped)
    assert "Vilja" in blob
    assert_no_canary(blob, code)


async def test_ciphertext_moved_to_another_row_or_column_fails(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    tokens: TokenFactory,
    app: Any,
) -> None:
    world = await build_world(db, tokens)
    case = await open_case(client, world.police, world.marak)
    ids = []
    for street in ("Victim street 1", "Perpetrator street 2"):
        body = person_body(address={"street": street}, phones=[{"number": "+358 40 1"}])
        r = await client.post(
            "/api/v1/persons",
            json={"case_id": case["id"], "role": "victim", "person": body},
            headers=world.police.headers,
        )
        ids.append(uuid.UUID(r.json()["person"]["id"]))
    victim, other = ids
    # Copy the victim's address envelope onto the other record, and onto the phones column.
    await connection.execute(
        text(
            "UPDATE person_case_facts SET address_enc = (SELECT address_enc FROM "
            "person_case_facts WHERE person_id = :src), phones_enc = (SELECT address_enc FROM "
            "person_case_facts WHERE person_id = :src) WHERE person_id = :dst"
        ),
        {"src": victim.hex if connection.dialect.name == "sqlite" else victim, "dst": (
            other.hex if connection.dialect.name == "sqlite" else other)},
    )  # fmt: skip
    keyring: KeyRing = app.state.keyring.get()
    rows = {
        f.person_id: f
        for f in (
            await db.scalars(
                select(PersonCaseFacts)
                .where(PersonCaseFacts.person_id.in_(ids))
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    moved = rows[other]
    assert moved.address_enc == rows[victim].address_enc  # the same envelope ...
    cipher = await case_cipher(db, keyring, rows[victim].case_id)  # the case's data key
    assert cipher.open_json(rows[victim].address_enc, FieldContext.of(rows[victim], "address_enc"))
    for column in ("address_enc", "phones_enc"):  # ... opens only where it was sealed
        with pytest.raises(DecryptionError):
            cipher.open(getattr(moved, column), FieldContext.of(moved, column))
    # The API fails closed: no address of anyone, just an error with a request id.
    r = await client.get(
        f"/api/v1/persons/{other}?case_id={case['id']}", headers=world.police.headers
    )
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "street" not in r.text

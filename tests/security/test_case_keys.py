"""Per-case data keys and crypto-shredding, at rest (issue 15, section 4).

A victim recorded into case A (address, phones, safe contact, a correction,
a safety plan with its safe-contact form) is attached to case B, which
records facts of its own. After ``shred_case_key(A)``:

- every sealed value of case A, read raw from the database, opens with no
  key the ring holds: not the field keys, not any case key (its own is gone);
- every other sealed value opens: case B's facts, the person's identity;
- the API answers ``410 case-data-shredded`` for case A's protected fields and
  keeps answering for case B and the identity.

Also: every sealed table is classified (case key or field key), values sealed
before case keys (format v1) read and move under the case key with
``keys rotate``, rotation rewraps case keys, and a shredded case never gets a
new key.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.casekeys.models import CaseKey
from app.casekeys.service import (
    CASE_SEALED,
    FIELD_SEALED,
    case_cipher,
    case_of_rows,
    open_stored,
    shred_case_key,
)
from app.cli import cli
from app.demo.seed import seed_demo
from app.ops.keyrotation import count_values, protected_columns, rotate
from app.ops.migrate import upgrade
from app.persons.models import Person, PersonCaseFacts
from app.platform.config import Settings, get_settings
from app.platform.crypto import (
    CaseDataShredded,
    DecryptionError,
    FieldContext,
    KeyRing,
    Sealed,
    ensure_dev_keys,
    load_keyring,
)
from app.platform.db import Database
from app.platform.registry import Base
from tests.cases.factories import add_participant
from tests.conftest import _in_thread
from tests.persons.factories import new_code, record_person
from tests.plans.factories import MarakCase
from tests.problems import assert_problem
from tests.world import World, open_case, with_etag

NEW_KEY = base64.b64encode(b"r" * 32).decode()
SAFE = {"safe_times": "Shredtimes 9-11", "feared_persons": "Shredfeared cousin"}


async def arrange(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> dict[str, Any]:
    """Case A (the Marak case) and case B, one victim with facts in both."""
    police = world.police
    case_a, case_b = str(marak.case.id), (await open_case(client, police, world.marak))["id"]
    created = await record_person(
        client,
        police,
        case_a,
        identity_code=new_code(),
        address={"street": "Shredstreet 1"},
        phones=[{"number": "+358 40 111"}],
        safe_contact=SAFE,
    )
    person_id = str(created["person"]["id"])
    facts_a = f"/api/v1/cases/{case_a}/persons/{person_id}/facts"
    r = await client.patch(
        facts_a,
        json={"reason": "Moved.", "address": {"street": "Shredstreet 2"}},
        headers=with_etag(police, '"1"'),
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/cases/{case_a}/plan",
        json={"summary": "Stay safe.", "safe_contact": {"safe_times": SAFE["safe_times"]}},
        headers=police.headers,
    )
    assert r.status_code == 201, r.text
    person = await db.get(Person, uuid.UUID(person_id))
    assert person is not None
    b = await db.get(type(marak.case), uuid.UUID(case_b))
    assert b is not None
    await add_participant(db, b, police, "victim", person)
    await db.commit()
    facts_b = f"/api/v1/cases/{case_b}/persons/{person_id}/facts"
    r = await client.patch(
        facts_b,
        json={"reason": "Recorded.", "address": {"street": "Bstreet 5"}},
        headers=with_etag(police, '"0"'),
    )
    assert r.status_code == 200, r.text
    return {
        "a": uuid.UUID(case_a),
        "b": uuid.UUID(case_b),
        "person": person_id,
        "facts_a": facts_a,
        "facts_b": facts_b,
    }


async def sealed_values(db: AsyncSession) -> list[tuple[uuid.UUID | None, Sealed, FieldContext]]:
    """Every sealed value in the database: (its case or None, the value, its context)."""
    found = []
    for table, columns in protected_columns(Base.metadata).items():
        if table.name in CASE_SEALED:
            stmt = case_of_rows(Base.metadata, table)
            offset = 2
        else:
            stmt = select(table.c.id, *columns)
            offset = 1
        for row in (await db.execute(stmt)).all():
            case_id = row[1] if offset == 2 else None
            for column, value in zip(columns, row[offset:], strict=True):
                if value is not None:
                    found.append((case_id, value, FieldContext(table.name, row[0], column.name)))
    return found


def test_every_sealed_table_is_classified() -> None:
    """A new sealed column must say whether a case owns it (app/casekeys/service.py)."""
    tables = {t.name for t in protected_columns(Base.metadata)}
    assert tables == set(CASE_SEALED) | FIELD_SEALED
    assert not set(CASE_SEALED) & FIELD_SEALED


async def test_after_shredding_nothing_of_the_case_decrypts_and_everything_else_does(
    client: httpx.AsyncClient,
    db: AsyncSession,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    ids = await arrange(client, db, world, marak)
    keyring = load_keyring(settings)
    before = await sealed_values(db)
    of_a = [v for v in before if v[0] == ids["a"]]
    assert {ctx.table for _, _, ctx in of_a} >= {
        "person_case_facts",
        "person_case_fact_versions",
        "plan_versions",
    }
    assert all(value.case_id == ids["a"] for _, value, _ in of_a)  # all under A's key
    for _, value, ctx in before:
        await open_stored(db, keyring, value, ctx)  # everything opens before

    result = await shred_case_key(db, ids["a"])
    await db.commit()
    # One older value: the fixture's must-not-receive reason, in plain text as before 0024.
    assert result.destroyed and result.legacy_values == 1
    row = await db.get(CaseKey, ids["a"], populate_existing=True)
    assert row is not None and row.wrapped_key is None and row.destroyed_at is not None

    after = await sealed_values(db)
    shredded = [v for v in after if v[0] == ids["a"]]
    others = [v for v in after if v[0] != ids["a"]]
    # ...and the tombstone that took the place of the plaintext must-not-receive reason.
    assert len(shredded) == len(of_a) + 1 and others
    for _, value, ctx in shredded:
        with pytest.raises(CaseDataShredded):
            await open_stored(db, keyring, value, ctx)
        with pytest.raises(DecryptionError):
            keyring.open(value, ctx)  # no field key opens it either
        other = await case_cipher(db, keyring, ids["b"])  # nor another case's key
        with pytest.raises(DecryptionError):
            other.open(value, ctx)
    for _, value, ctx in others:
        assert await open_stored(db, keyring, value, ctx)
    assert {ctx.table for c, _, ctx in others if c is None} >= {"persons", "person_versions"}

    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "case.key_shredded"))
    assert event is not None and event.target_id == str(ids["a"])
    assert "Shred" not in (event.purpose or "")

    # Idempotent, and a shredded case never gets a new key.
    again = await shred_case_key(db, ids["a"])
    assert not again.destroyed
    cipher = await case_cipher(db, keyring, ids["a"], create=True)
    assert cipher.shredded
    with pytest.raises(CaseDataShredded):
        cipher.seal("x", FieldContext("person_case_facts", uuid.uuid4(), "address_enc"))


async def test_the_api_after_shredding(
    client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
) -> None:
    ids = await arrange(client, db, world, marak)
    await shred_case_key(db, ids["a"])
    await db.commit()
    police = world.police
    person = f"/api/v1/persons/{ids['person']}"

    for url in (ids["facts_a"], ids["facts_a"] + "/history", f"{person}?case_id={ids['a']}"):
        r = await client.get(url, headers=police.headers)
        assert_problem(r, 410)
        assert r.json()["type"].endswith("case-data-shredded")
        assert "Shred" not in r.text
    assert_problem(await client.get(f"/api/v1/cases/{ids['a']}/plan", headers=police.headers), 410)
    r = await client.patch(
        ids["facts_a"],
        json={"reason": "Again.", "address": {"street": "Nowhere 1"}},
        headers=with_etag(police, '"2"'),
    )
    assert_problem(r, 410)

    # Case B and the shared identity still answer.
    r = await client.get(f"{person}?case_id={ids['b']}", headers=police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["address"]["street"] == "Bstreet 5"
    r = await client.get(ids["facts_b"] + "/history", headers=police.headers)
    assert r.status_code == 200 and len(r.json()["versions"]) == 1, r.text
    r = await client.get(person, headers=police.headers)
    assert r.status_code == 200 and r.json()["identity_code"], r.text
    r = await client.get(person + "/history", headers=police.headers)
    assert r.status_code == 200, r.text


async def test_values_sealed_before_case_keys_read_and_move_under_the_case_key(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    ids = await arrange(client, db, world, marak)
    keyring = load_keyring(settings)
    facts = await db.scalar(select(PersonCaseFacts).where(PersonCaseFacts.case_id == ids["b"]))
    assert facts is not None
    # Case B's phones as the service sealed them before 0019: v1, under the field key.
    old = keyring.seal_json([{"number": "+358 40 222"}], FieldContext.of(facts, "phones_enc"))
    await connection.execute(
        text("UPDATE person_case_facts SET phones_enc = :v WHERE id = :id"),
        {"v": old.token, "id": facts.id.hex if connection.dialect.name == "sqlite" else facts.id},
    )
    r = await client.get(ids["facts_b"], headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["phones"][0]["number"] == "+358 40 222"  # the old format still reads

    dev = ensure_dev_keys(settings)
    ring = KeyRing.from_spec(f"rot1:{NEW_KEY},{dev['field_keys']}", dev["blind_index_key"])
    result = await rotate(Database.bound_to(connection).sessionmaker, Base.metadata, ring)
    assert result.rewrapped >= 2 and result.per_table.get("person_case_facts", 0) >= 1
    assert set(await count_values(db, Base.metadata)) == {"rot1"}
    keys = (await db.scalars(select(CaseKey).execution_options(populate_existing=True))).all()
    assert {k.key_version for k in keys} == {"rot1"}

    # Only the new field key is needed now: case keys and identity alike.
    only_new = KeyRing.from_spec(f"rot1:{NEW_KEY}", dev["blind_index_key"])
    for case_id, value, ctx in await sealed_values(db):
        assert case_id is None or value.case_id == case_id  # nothing of a case left on v1
        assert await open_stored(db, only_new, value, ctx)
    # ... and the old one alone no longer unwraps any case key.
    case_value = next(v for v in await sealed_values(db) if v[0] == ids["a"])
    with pytest.raises(DecryptionError, match="not configured"):
        await open_stored(db, keyring, case_value[1], case_value[2])


async def test_shredding_overwrites_values_still_in_the_old_format(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    marak: MarakCase,
    settings: Settings,
) -> None:
    ids = await arrange(client, db, world, marak)
    keyring = load_keyring(settings)
    facts = await db.scalar(select(PersonCaseFacts).where(PersonCaseFacts.case_id == ids["a"]))
    assert facts is not None
    old = keyring.seal_json({"street": "Legacy 1"}, FieldContext.of(facts, "address_enc"))
    await connection.execute(
        text("UPDATE person_case_facts SET address_enc = :v WHERE id = :id"),
        {"v": old.token, "id": facts.id.hex if connection.dialect.name == "sqlite" else facts.id},
    )
    result = await shred_case_key(db, ids["a"])
    await db.commit()
    assert result.legacy_values == 2  # and the fixture's plaintext must-not-receive reason
    raw = (
        await connection.execute(
            text("SELECT address_enc FROM person_case_facts WHERE id = :id"),
            {"id": facts.id.hex if connection.dialect.name == "sqlite" else facts.id},
        )
    ).scalar_one()
    assert raw != old.token and raw.startswith("c1.")
    with pytest.raises(CaseDataShredded):
        await open_stored(db, keyring, Sealed(raw), FieldContext.of(facts, "address_enc"))


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_shreds_a_case_only_when_confirmed(fresh_settings: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(data_dir=data_dir, database_url=url)
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    env = {"CASECOORD_DATA_DIR": str(data_dir), "CASECOORD_DATABASE_URL": url}
    runner = CliRunner()
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        (case_hex,) = conn.execute(
            "SELECT case_id FROM person_case_facts ORDER BY case_id LIMIT 1"
        ).fetchone()
    case_id = str(uuid.UUID(hex=case_hex))

    refused = runner.invoke(cli, ["keys", "shred-case", case_id], env=env)
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert runner.invoke(cli, ["keys", "shred-case", "nope", "--yes"], env=env).exit_code == 2
    unknown = runner.invoke(cli, ["keys", "shred-case", str(uuid.uuid4()), "--yes"], env=env)
    assert unknown.exit_code == 1 and "No such case" in unknown.output

    done = runner.invoke(cli, ["keys", "shred-case", case_id, "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert "data key destroyed" in done.output
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        row = conn.execute(
            "SELECT wrapped_key, destroyed_at FROM case_keys WHERE case_id = ?", (case_hex,)
        ).fetchone()
        assert row[0] is None and row[1] is not None
        assert conn.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'case.key_shredded'"
        ).fetchone() == (1,)
    status = runner.invoke(cli, ["keys", "status"], env=env)
    assert status.exit_code == 0 and "shredded" in status.output, status.output
    rotated = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "No value is under an older key" in rotated.output

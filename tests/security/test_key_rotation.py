"""Key rotation: after ``casecoord keys rotate`` everything still decrypts, under the new key."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.casekeys.service import open_stored
from app.cli import cli
from app.demo.seed import seed_demo
from app.main import create_app
from app.ops.keyrotation import count_values, protected_columns, rotate
from app.ops.migrate import upgrade
from app.platform.config import Settings, get_settings
from app.platform.crypto import FieldContext, KeyRing, Sealed, ensure_dev_keys, load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.conftest import _in_thread
from tests.persons.factories import give_consent, new_code, person_body
from tests.world import TokenFactory, build_world, open_case, with_etag

NEW_KEY = base64.b64encode(b"n" * 32).decode()


async def open_everything(session: AsyncSession, keyring: KeyRing) -> int:
    """Decrypt every sealed value in the database with ``keyring``; returns how many."""
    opened = 0
    for table, columns in protected_columns(Base.metadata).items():
        for row in (await session.execute(select(table.c.id, *columns))).all():
            for column, value in zip(columns, row[1:], strict=True):
                if value is not None:
                    assert isinstance(value, Sealed)
                    ctx = FieldContext(table.name, row[0], column.name)
                    await open_stored(session, keyring, value, ctx)  # field or case key
                    opened += 1
    return opened


async def test_after_rotation_everything_decrypts_under_the_new_key(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    tokens: TokenFactory,
    settings: Settings,
) -> None:
    world = await build_world(db, tokens)
    case = await open_case(client, world.police, world.marak)
    code = new_code()
    body = person_body(
        identity_code=code,
        address={"street": "Rotation road 5"},
        phones=[{"number": "+358 40 5"}],
        safe_contact={"safe_times": "Evenings"},
    )
    r = await client.post(
        "/api/v1/persons",
        json={"case_id": case["id"], "role": "victim", "person": body},
        headers=world.police.headers,
    )
    person_id = r.json()["person"]["id"]
    url = f"/api/v1/persons/{person_id}"
    r = await client.patch(
        url,
        json={"reason": "Correction.", "given_name": "Vilma", "case_id": case["id"]},
        headers=with_etag(world.police, '"1"'),
    )
    assert r.status_code == 200, r.text
    await give_consent(client, world.police, person_id, case["id"])
    history_url = url + "/history"
    url = f"{url}?case_id={case['id']}"
    before = (await client.get(url, headers=world.police.headers)).json()

    dev = ensure_dev_keys(settings)
    old = load_keyring(settings)
    new_ring = KeyRing.from_spec(f"new1:{NEW_KEY},{dev['field_keys']}", dev["blind_index_key"])
    result = await rotate(Database.bound_to(connection).sessionmaker, Base.metadata, new_ring)
    assert result.resealed > 0 and result.skipped_changed == 0
    assert set(await count_values(db, Base.metadata)) == {"new1"}
    again = await rotate(Database.bound_to(connection).sessionmaker, Base.metadata, new_ring)
    assert again.resealed == 0 and again.current == result.resealed + result.current

    only_new = KeyRing.from_spec(f"new1:{NEW_KEY}", dev["blind_index_key"])
    assert await open_everything(db, only_new) == result.resealed + result.current
    with pytest.raises(Exception, match="not configured"):
        await open_everything(db, old)

    # An app that knows only the new key serves the same record, with the same ETag.
    rotated_settings = settings.model_copy(
        update={
            "field_keys": SecretStr(f"new1:{NEW_KEY}"),
            "blind_index_key": SecretStr(dev["blind_index_key"]),
        }
    )
    rotated_app = create_app(rotated_settings, database=Database.bound_to(connection))
    transport = httpx.ASGITransport(app=rotated_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as rotated:
        after = await rotated.get(url, headers=world.police.headers)
        assert after.status_code == 200, after.text
        assert after.json() == before
        found = await rotated.post(
            "/api/v1/persons/search", json={"identity_code": code}, headers=world.police.headers
        )
        assert [p["id"] for p in found.json()["items"]] == [person_id]
        history = await rotated.get(history_url, headers=world.police.headers)
        assert [v["snapshot"]["given_name"] for v in history.json()["versions"]] == [
            "Vilja",
            "Vilma",
        ]


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_rotates_a_demo_database_with_a_progress_bar(
    fresh_settings: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(data_dir=data_dir, database_url=url)
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    first = load_keyring(settings)
    env = {"CASECOORD_DATA_DIR": str(data_dir), "CASECOORD_DATABASE_URL": url}
    runner = CliRunner()

    status = runner.invoke(cli, ["keys", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert first.primary_kid in status.output

    result = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "Re-encrypting" in result.output and "Re-encrypted" in result.output
    assert "No value is under an older key" in result.output

    rotated = load_keyring(settings)
    assert rotated.primary_kid != first.primary_kid
    assert rotated.kids[1:] == first.kids  # the old key is kept until removed by hand
    document = json.loads(settings.dev_field_keys_path.read_text())
    only_new = KeyRing.from_spec(document["field_keys"].split(",")[0], document["blind_index_key"])

    async def check() -> dict[str, Any]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                opened = await open_everything(session, only_new)
                counts = await count_values(session, Base.metadata)
                audit = await session.scalar(
                    select(AuditEvent).where(AuditEvent.action == "keys.rotated")
                )
                return {"opened": opened, "counts": counts, "audit": audit}
        finally:
            await db.dispose()

    found: dict[str, Any] = {}
    _in_thread(lambda: found.update(asyncio.run(check())))
    assert found["opened"] > 10  # demo people, their versions
    assert set(found["counts"]) == {rotated.primary_kid}
    assert found["audit"] is not None and found["audit"].target_id == rotated.primary_kid


def test_cli_generate_prints_a_usable_key(fresh_settings: None) -> None:
    result = CliRunner().invoke(cli, ["keys", "generate", "--kid", "prod-2027"])
    assert result.exit_code == 0
    entry = result.stdout.strip()
    assert entry.startswith("prod-2027:")
    KeyRing.from_spec(entry, base64.b64encode(b"i" * 32).decode())


@pytest.mark.parametrize("command", [["keys", "rotate"], ["keys", "status"], ["serve"]])
def test_cli_refuses_production_without_keys(
    fresh_settings: None, tmp_path: Path, command: list[str]
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    env = {
        "CASECOORD_ENV": "production",
        "CASECOORD_DATA_DIR": str(tmp_path),
        "CASECOORD_OIDC_JWKS": str(jwks),
    }
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 2
    assert "required in production" in " ".join(result.output.split())
    assert not (tmp_path / "dev-field-keys.json").exists()
    assert not (tmp_path / "casecoord.db").exists()  # refused before migrating

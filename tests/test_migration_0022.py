"""Migration 0022, both databases, on the demo data: existing access requests get
the recorder's organisation; existing legal holds' free-text grounds become
``other`` with the text kept as the reference only where it already is one (never
truncated prose); the downgrade puts code and reference back together as text."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.demo.seed import seed_demo
from app.ops.migrate import downgrade, upgrade
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from tests.conftest import _in_thread, scratch_database


@pytest.fixture
def scratch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "m0022", migrate=False) as url:
        yield url


def _run(url: str, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async def go() -> list[Any]:
        db = Database.from_url(url)
        out: list[Any] = []
        try:
            async with db.sessionmaker.begin() as session:
                for sql, params in statements:
                    result = await session.execute(text(sql), params)
                    if result.returns_rows:
                        out.append(result.all())
        finally:
            await db.dispose()
        return out

    found: list[Any] = []
    _in_thread(lambda: found.append(asyncio.run(go())))
    return found[0]


def _id(url: str) -> Any:
    value = uuid.uuid4()
    return value.hex if url.startswith("sqlite") else value


def _when(url: str) -> Any:
    at = datetime(2026, 6, 1, 10, tzinfo=UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f") if url.startswith("sqlite") else at


NARRATIVE = "Litigation: Virtanen v. the city about the 2025 custody matter, see email"


def test_holds_and_requests_are_carried_over(scratch_url: str, tmp_path: Path) -> None:
    url = scratch_url
    _in_thread(lambda: upgrade(url))
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    ring = load_keyring(settings)  # 0021's downgrade opens the sealed free text
    _in_thread(lambda: downgrade(url, "0020", keyring=ring))
    ((user,),), ((person,),) = (
        _run(url, [("SELECT id, organisation_id FROM users ORDER BY subject LIMIT 1", {})]),
        _run(url, [("SELECT id FROM persons LIMIT 1", {})]),
    )
    user_id, org_id = user
    (person_id,) = person
    request_id = _id(url)
    holds = {name: _id(url) for name in ("reference", "narrative", "lifted")}
    insert_hold = (
        "INSERT INTO legal_holds (id, target_type, target_id, ground, placed_by, lifted_at, "
        "lifted_by, lift_ground, created_at, updated_at, version) VALUES (:id, 'person', "
        ":target, :ground, :user, :lifted_at, :lifted_by, :lift, CURRENT_TIMESTAMP, "
        "CURRENT_TIMESTAMP, 1)"
    )
    base = {"target": person_id, "user": user_id}
    none = {"lifted_at": None, "lifted_by": None, "lift": None}
    lifted = {"lifted_at": _when(url), "lifted_by": user_id, "lift": "Matter closed"}
    _run(
        url,
        [
            (
                insert_hold,
                {"id": holds["reference"], "ground": "Matter 7/2026", **base, **none},
            ),
            (insert_hold, {"id": holds["narrative"], "ground": NARRATIVE, **base, **none}),
            (insert_hold, {"id": holds["lifted"], "ground": "HO-2026/88", **base, **lifted}),
            (
                "INSERT INTO access_requests (id, person_id, requester_kind, "
                "identity_verification, received_on, due_on, status, recorded_by, "
                "export_count, created_at, updated_at, version) VALUES (:id, :person, "
                "'person', 'strong_electronic_identification', '2026-01-05', '2026-02-05', "
                "'recorded', :user, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
                {"id": request_id, "person": person_id, "user": user_id},
            ),
        ],
    )
    _in_thread(lambda: upgrade(url))
    found, requests = _run(
        url,
        [
            ("SELECT id, ground, reference, lift_ground, lift_reference FROM legal_holds", {}),
            ("SELECT id, organisation_id FROM access_requests", {}),
        ],
    )
    by_id = {str(uuid.UUID(str(r[0]))): tuple(r[1:]) for r in found}
    key = {name: str(uuid.UUID(str(v))) for name, v in holds.items()}
    assert by_id[key["reference"]] == ("other", "Matter 7/2026", None, None)
    assert by_id[key["narrative"]] == ("other", None, None, None)  # dropped, not cut
    assert by_id[key["lifted"]] == ("other", "HO-2026/88", "other", None)
    assert [(str(uuid.UUID(str(r[0]))), str(uuid.UUID(str(r[1])))) for r in requests] == [
        (str(uuid.UUID(str(request_id))), str(uuid.UUID(str(org_id))))
    ]
    ring = load_keyring(settings)  # 0021's downgrade opens the sealed free text
    _in_thread(lambda: downgrade(url, "0020", keyring=ring))
    (back,) = _run(url, [("SELECT id, ground, lift_ground FROM legal_holds", {})])
    again = {str(uuid.UUID(str(r[0]))): tuple(r[1:]) for r in back}
    assert again[key["reference"]] == ("other Matter 7/2026", None)
    assert again[key["lifted"]] == ("other HO-2026/88", "other")

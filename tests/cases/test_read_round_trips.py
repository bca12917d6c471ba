"""The statements an authorised case read runs (issue 13, bench/README.md).

A case route's case rides in the caller's directory lookup (CaseCompanion),
and the case's key row with it, so a read of a case is ONE query before its
audit row. These tests pin that, and that the rows read early are the
transaction's truth: a case with no key yet gets one on its first sealed write,
a shredded case still answers 410, and the rule is the same as the case's own
query (tests/security/test_case_companion.py checks it case by case).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.models import CaseKey
from app.cases.models import Case
from tests.cases.factories import make_case
from tests.world import World


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = connection.sync_connection.engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _case_with_summary(client: httpx.AsyncClient, db: AsyncSession, world: World) -> Case:
    case = await make_case(db, world.marak, world.police)
    await db.commit()
    r = await client.patch(
        f"/api/v1/cases/{case.id}",
        json={"summary": "Threats by text message since May."},
        headers={**world.police.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    return case


async def test_reading_a_sealed_case_is_one_query_with_the_caller(
    client: httpx.AsyncClient, db: AsyncSession, world: World, connection: AsyncConnection
) -> None:
    case = await _case_with_summary(client, db, world)
    with statements(connection) as seen:
        r = await client.get(f"/api/v1/cases/{case.id}", headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == "Threats by text message since May."
    reads = [s for s in seen if s.startswith("SELECT")]
    assert len(reads) == 1, reads
    assert "FROM users" in reads[0] and "JOIN cases" in reads[0] and "JOIN case_keys" in reads[0]


async def test_a_case_without_a_key_gets_one_on_its_first_sealed_write(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    case = await make_case(db, world.marak, world.police)
    await db.commit()
    assert await db.get(CaseKey, case.id) is None
    r = await client.post(
        f"/api/v1/cases/{case.id}/notes",
        json={"text": "Met the family.", "kind": "fact"},
        headers=world.police.headers,
    )
    assert r.status_code == 201, r.text
    key = await db.scalar(
        select(CaseKey).where(CaseKey.case_id == case.id).execution_options(populate_existing=True)
    )
    assert key is not None and key.wrapped_key is not None
    r = await client.get(f"/api/v1/cases/{case.id}/notes", headers=world.police.headers)
    assert [n["text"] for n in r.json()["items"]] == ["Met the family."]


async def test_a_shredded_case_still_reads_as_destroyed(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    case = await _case_with_summary(client, db, world)
    from app.casekeys.service import shred_case_key

    await shred_case_key(db, case.id)
    await db.commit()
    r = await client.get(f"/api/v1/cases/{case.id}", headers=world.police.headers)
    assert r.status_code == 410, r.text

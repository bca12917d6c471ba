"""The case free text sealed by revision 0024 (issue 15): the case's summary and
closure reason, a transition's reasons, an invitation's reason, a must-not-receive
reason, an incident's note, an outside assessment's reference, a plan version's
summary, contacts and measures snapshot, a measure's description; and (0027)
a measure's outcome note.

Each is written through the API with a marker; the raw rows hold no plaintext
(the plaintext column NULL, the sealed one under the case key), the API reads
them back; rows from before 0024 (plaintext, nothing sealed) read, are counted
by ``keys status``, sealed by ``keys rotate``; after shredding the case nothing
of it opens and its reads answer 410, while another case's text still reads.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.casekeys.freetext import LEGACY_PLAINTEXT
from app.casekeys.service import open_stored, shred_case_key
from app.ops.keyrotation import PLAINTEXT, count_values, rotate
from app.platform.config import Settings
from app.platform.crypto import CaseDataShredded, FieldContext, Sealed, load_keyring
from app.platform.db import Database
from app.platform.registry import Base
from tests.persons.factories import record_person
from tests.plans.factories import agree, api_measure, api_plan, settle_measure
from tests.problems import assert_problem
from tests.risk import answers
from tests.risk.factories import assess
from tests.risk.test_records import hcr20, incident
from tests.security.at_rest import MARK, assert_no_marker, raw_rows
from tests.world import World, open_case, with_etag

API = "/api/v1"
#: Every (table, plaintext column) revision 0024 sealed; the flow writes each.
COLUMNS = {
    ("cases", "summary"),
    ("cases", "closure_reason"),
    ("case_transitions", "reason"),
    ("case_transitions", "no_consent_reason"),
    ("case_members", "invite_reason"),
    ("case_exclusions", "reason"),
    ("case_incidents", "note"),
    ("external_assessments", "reference"),
    ("plan_versions", "summary"),
    ("plan_versions", "contacts"),
    ("plan_versions", "measures_snapshot"),
    ("plan_measures", "description"),
    ("plan_measures", "outcome_note"),  # 0027
}
CONTACT = {"label": f"{MARK} aunt Ritva", "phone": "040 765 4321"}


def test_the_columns_are_legacy_plaintext_with_a_sealed_twin() -> None:
    for table, column in COLUMNS:
        assert LEGACY_PLAINTEXT[table][column] == f"{column}_enc"


async def _post(client: httpx.AsyncClient, url: str, body: Any, headers: Any) -> Any:
    r = await client.post(url, json=body, headers=headers)
    assert r.status_code in (200, 201), (url, r.text)
    return r.json()


async def write_case_text(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Case A with every 0024 text written through the API; case B closed with a reason."""
    police = world.police
    case = await open_case(client, police, world.marak, summary=f"{MARK} summary")
    assert case["summary"] == f"{MARK} summary"
    cid = case["id"]
    url = f"{API}/cases/{cid}"
    await assess(client, police, cid, answers.marak(14))  # a criterion is met
    victim = await record_person(client, police, cid, "victim")
    consent = {"basis": "consent", "scope": "marak_sharing", "given_by": "person"}
    await _post(
        client,
        f"{API}/persons/{victim['person']['id']}/consents",
        {**consent, "method": "oral", "case_id": cid},
        police.headers,
    )
    etag = (await client.get(url, headers=police.headers)).headers["etag"]
    statement = {"victim_aware": True, "consent_given": True, "no_consent_reason": f"{MARK} nc"}
    body = {"to": "referred", "reason": f"{MARK} referred", "consent": statement}
    await _post(client, f"{url}/transitions", body, with_etag(police, etag))
    invite = {"user_id": str(world.outsider_police.id), "invite_reason": f"{MARK} invited in"}
    member = await _post(client, f"{url}/members", invite, police.headers)
    assert member["invite_reason"] == f"{MARK} invited in"
    excluded = {"organisation_id": str(world.other.id), "reason": f"{MARK} excluded"}
    assert (await _post(client, f"{url}/must-not-receive", excluded, police.headers))[
        "reason"
    ] == f"{MARK} excluded"
    made = await _post(client, f"{url}/incidents", incident(note=f"{MARK} 5500/R"), police.headers)
    assert made["note"] == f"{MARK} 5500/R"
    ext = await _post(
        client, f"{url}/external-assessments", hcr20(reference=f"{MARK} FPO"), police.headers
    )
    assert ext["reference"] == f"{MARK} FPO"
    plan = await api_plan(client, police, cid, summary=f"{MARK} plan", contacts=[CONTACT])
    assert plan["current"]["contacts"] == [CONTACT]
    measure = await api_measure(client, police, cid, police.org_id, description=f"{MARK} m")
    assert measure["description"] == f"{MARK} m"
    r = await agree(client, police, cid)
    assert r.status_code == 200, r.text
    settled = await settle_measure(client, police, cid, f"{MARK} outcome")
    assert settled["outcome_note"] == f"{MARK} outcome"

    other = await open_case(client, police, world.marak, summary="Other case: calm.")
    closing = {"to": "closed", "outcome": "moved_out_of_area", "reason": f"{MARK} moved"}
    closed = await _post(
        client, f"{API}/cases/{other['id']}/transitions", closing, with_etag(police, other["etag"])
    )
    assert closed["closure_reason"] == f"{MARK} moved"
    return {"case": uuid.UUID(cid), "plan": uuid.UUID(plan["id"]), "other": other["id"]}


def _where(table: str, ids: dict[str, Any], column: str = "") -> dict[str, Any]:
    """Case A's rows of ``table``; the closure reason is case B's (A stays open)."""
    if column == "closure_reason":
        return {"id": uuid.UUID(ids["other"])}
    if table == "cases":
        return {"id": ids["case"]}
    if table == "plan_versions":
        return {"plan_id": ids["plan"]}
    return {"case_id": ids["case"]}


async def stored(db: AsyncSession, ids: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """The sealed values per column (raw); no row holds the marker anywhere."""
    found: dict[tuple[str, str], list[str]] = {}
    for table, column in COLUMNS:
        rows = await raw_rows(db, table, **_where(table, ids, column))
        assert_no_marker(rows)
        found[(table, column)] = [r[f"{column}_enc"] for r in rows if r[f"{column}_enc"]]
        assert all(r[column] is None for r in rows), f"{table}.{column} holds plaintext"
    return found


def _owner(ids: dict[str, Any], column: tuple[str, str]) -> str:
    return uuid.UUID(ids["other"]).hex if column[1] == "closure_reason" else ids["case"].hex


async def reads(client: httpx.AsyncClient, world: World, cid: Any) -> str:
    """Every read of case A's 0024 text, as one blob."""
    url, headers = f"{API}/cases/{cid}", world.police.headers
    out = []
    for path in ("", "/transitions", "/members", "/must-not-receive", "/incidents",
                 "/external-assessments", "/plan", "/plan/versions", "/plan/measures"):  # fmt: skip
        r = await client.get(url + path, headers=headers)
        assert r.status_code == 200, (path, r.text)
        out.append(json.dumps(r.json(), sort_keys=True))  # sealed JSON comes back key-sorted
    return "\n".join(out)


async def test_sealed_on_write_read_back_and_gone_with_the_case_key(
    client: httpx.AsyncClient, db: AsyncSession, world: World, settings: Settings
) -> None:
    ids = await write_case_text(client, world)
    cid = ids["case"]
    values = await stored(db, ids)
    for column, tokens in values.items():
        assert tokens, f"nothing sealed in {column}"
        assert all(t.startswith(f"c1.{_owner(ids, column)}.") for t in tokens), column
    blob = await reads(client, world, cid)
    for text in ("summary", "referred", "nc", "invited in", "excluded", "5500/R", "FPO",
                 "plan", "aunt Ritva", "m", "outcome"):  # fmt: skip
        assert f"{MARK} {text}" in blob, text
    assert blob.count(f"{MARK} m") >= 3  # the measure, and the agreed snapshot (twice)

    await shred_case_key(db, cid)
    await db.commit()
    keyring = load_keyring(settings)
    for table, column in COLUMNS - {("cases", "closure_reason")}:
        rows = await raw_rows(db, table, **_where(table, ids))
        for row in rows:
            token = row[f"{column}_enc"]
            if token is not None:
                ctx = FieldContext(table, uuid.UUID(str(row["id"])), f"{column}_enc")
                with pytest.raises(CaseDataShredded):
                    await open_stored(db, keyring, Sealed(token), ctx)
    assert_no_marker(await raw_rows(db, "cases", id=cid))
    url = f"{API}/cases/{cid}"
    for path in ("", "/transitions", "/members", "/must-not-receive", "/incidents",
                 "/external-assessments", "/plan", "/plan/versions", "/plan/measures"):  # fmt: skip
        assert_problem(await client.get(url + path, headers=world.police.headers), 410)
    # The other case still reads.
    r = await client.get(f"{API}/cases/{ids['other']}", headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == "Other case: calm."
    assert r.json()["closure_reason"] == f"{MARK} moved"


async def make_legacy(db: AsyncSession, ids: dict[str, Any]) -> None:
    """Turn case A's sealed 0024 text into rows as written before 0024 (plaintext only)."""
    for table, column in COLUMNS:
        t = Base.metadata.tables[table]
        if column == "contacts":
            value: Any = [{"label": f"{MARK} old aunt", "phone": "040 1"}]
        elif column == "measures_snapshot":
            value = [{"id": str(uuid.uuid4()), "category": "shelter", "description": f"{MARK} o"}]
        else:
            value = f"{MARK} old {column}"
        where = [t.c[k] == v for k, v in _where(table, ids, column).items()]
        enc = t.c[f"{column}_enc"]
        await db.execute(
            update(t).where(*where, enc.is_not(None)).values({column: value, enc: None})
        )
    await db.commit()


async def test_legacy_plaintext_reads_then_rotate_seals_it(
    client: httpx.AsyncClient,
    db: AsyncSession,
    connection: AsyncConnection,
    world: World,
    settings: Settings,
) -> None:
    ids = await write_case_text(client, world)
    await make_legacy(db, ids)
    blob = await reads(client, world, ids["case"])
    for column in ("summary", "reason", "no_consent_reason", "invite_reason", "note", "reference",
                   "description", "outcome_note"):  # fmt: skip
        assert f"{MARK} old {column}" in blob, column
    assert f"{MARK} old aunt" in blob and f"{MARK} o" in blob
    counts = await count_values(db, Base.metadata)
    assert counts[PLAINTEXT] >= len({t for t, _ in COLUMNS})

    sessions = Database.bound_to(connection).sessionmaker
    result = await rotate(sessions, Base.metadata, load_keyring(settings))
    for table in {t for t, _ in COLUMNS}:
        assert result.per_table.get(table, 0) >= 1, table
    values = await stored(db, ids)
    for column, tokens in values.items():
        assert tokens and all(t.startswith(f"c1.{_owner(ids, column)}.") for t in tokens)
    assert PLAINTEXT not in await count_values(db, Base.metadata)
    assert await reads(client, world, ids["case"]) == blob  # the same, now sealed
    other = await client.get(f"{API}/cases/{ids['other']}", headers=world.police.headers)
    assert other.json()["closure_reason"] == f"{MARK} old closure_reason"


async def test_shredding_empties_legacy_plaintext_not_yet_rotated(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    ids = await write_case_text(client, world)
    await make_legacy(db, ids)
    result = await shred_case_key(db, ids["case"])
    await db.commit()
    assert result.legacy_values >= len({t for t, _ in COLUMNS})
    for table, column in COLUMNS - {("cases", "closure_reason")}:  # B was not shredded
        rows = await raw_rows(db, table, **_where(table, ids))
        assert_no_marker(rows)
        assert all(r[column] is None for r in rows), f"{table}.{column} holds plaintext"
    url = f"{API}/cases/{ids['case']}"
    assert_problem(await client.get(url, headers=world.police.headers), 410)

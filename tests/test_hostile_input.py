"""Hostile input never reaches a 5xx: it gets a 422 (or 412) problem+json, and nothing is written.

One input policy (app/platform/inputs.py) covers every domain: integers beyond 64 bits,
an endless If-Match, date-times that leave the year range in UTC, NUL
characters anywhere, duplicate JSON keys and non-finite numbers.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from app.directory.models import Organisation
from app.plans.models import Meeting
from app.risk.models import Assessment
from tests.problems import assert_problem
from tests.referrals.conftest import ReferralWorld, build_referral_world, referral_body
from tests.risk.answers import marak
from tests.world import TokenFactory

API = "/api/v1"
LATE = "9999-12-31T23:59:59-14:00"  # 10000-01-01 in UTC
EARLY = "0001-01-01T00:00:00+14:00"  # year 0 in UTC
HUGE = 2**64
ENDLESS = "9" * 5000  # as written in JSON; Python refuses to convert it


@pytest.fixture
async def rw(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    return await build_referral_world(db, tokens)


def refused(r: httpx.Response, status: int = 422) -> dict[str, Any]:
    body = assert_problem(r, status)
    assert "\x00" not in r.text and "99999999" not in r.text, "the value is echoed"
    return body


async def count(db: AsyncSession, model: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


# --- integers beyond 64 bits ----------------------------------------------------------


@pytest.mark.parametrize(
    "version", [str(HUGE), str(-HUGE), ENDLESS], ids=["2**64", "-2**64", "5000 digits"]
)
async def test_instrument_version_beyond_64_bits(
    client: httpx.AsyncClient, rw: ReferralWorld, db: AsyncSession, version: str
) -> None:
    before = await count(db, Assessment)
    body = json.dumps({**marak(), "instrument_version": 0}).replace(
        '"instrument_version": 0', f'"instrument_version": {version}'
    )
    r = await client.post(
        f"{API}/cases/{rw.case.id}/assessments",
        content=body.encode(),
        headers={**rw.lead.headers, "Content-Type": "application/json"},
    )
    problem = refused(r)
    assert problem["errors"][0]["field"] == "instrument_version"
    assert await count(db, Assessment) == before


async def test_huge_integer_anywhere_in_a_body(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    r = await client.post(
        f"{API}/services",
        json={"name": "Big", "service_type": "victim_support", "response_time_target_days": HUGE},
        headers=rw.lead.headers,
    )
    assert 400 <= r.status_code < 500


# --- If-Match -------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ['"' + "9" * 5000 + '"', "9" * 5000, '"99999999999999999999"'])
async def test_endless_if_match_is_412(
    client: httpx.AsyncClient, rw: ReferralWorld, db: AsyncSession, tag: str
) -> None:
    case_id = rw.case.id
    r = await client.patch(
        f"{API}/cases/{rw.case.id}",
        json={"summary": "Changed"},
        headers={**rw.lead.headers, "If-Match": tag},
    )
    refused(r, 412)
    # Nothing written: the summary (sealed since 0024) is still empty.
    assert await db.scalar(select(Case.summary_enc).where(Case.id == case_id)) is None


# --- date-times that leave the year range in UTC ----------------------------------------


@pytest.mark.parametrize("when", [LATE, EARLY])
async def test_body_datetimes_out_of_range(
    client: httpx.AsyncClient, rw: ReferralWorld, db: AsyncSession, when: str
) -> None:
    cases, meetings = await count(db, Case), await count(db, Meeting)
    r = await client.post(
        f"{API}/cases",
        json={"team_id": str(rw.world.marak.id), "next_review_at": when},
        headers=rw.lead.headers,
    )
    assert refused(r)["errors"][0]["field"] == "next_review_at"
    r = await client.post(
        f"{API}/meetings",
        json={"team_id": str(rw.world.marak.id), "scheduled_at": when},
        headers=rw.world.coordinator.headers,
    )
    assert refused(r)["errors"][0]["field"] == "scheduled_at"
    r = await client.post(
        f"{API}/persons/{rw.victim.id}/consents",
        json={
            "basis": "consent",
            "scope": "service_referral",
            "service_name": "Shelter",
            "given_by": "self",
            "method": "written",
            "obtained_at": when,
        },
        headers=rw.lead.headers,
    )
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.text
    assert await count(db, Case) == cases and await count(db, Meeting) == meetings


@pytest.mark.parametrize("when", [LATE, EARLY])
@pytest.mark.parametrize("param", ["since", "until"])
async def test_query_datetimes_out_of_range(
    client: httpx.AsyncClient, rw: ReferralWorld, when: str, param: str
) -> None:
    auditor = rw.world.auditor
    r = await client.get(f"{API}/audit/events", params={param: when}, headers=auditor.headers)
    assert refused(r)["errors"][0]["field"] == f"query.{param}"
    r = await client.get(
        f"{API}/persons/{rw.victim.id}/access-report", params={param: when}, headers=auditor.headers
    )
    assert refused(r)["errors"][0]["field"] == f"query.{param}"


def forged(**payload: Any) -> str:
    raw_ = json.dumps({**payload, "id": str(uuid.uuid4())}).encode()
    return base64.urlsafe_b64encode(raw_).decode().rstrip("=")


#: Every keyset list, and the role that reads it.
LISTS = [
    ("lead", "/cases"),
    ("lead", "/cases/{case}/notes"),
    ("lead", "/cases/{case}/assessments"),
    ("lead", "/cases/{case}/incidents"),
    ("lead", "/cases/{case}/external-assessments"),
    ("lead", "/cases/{case}/referrals"),
    ("lead", "/referrals"),
    ("lead", "/meetings"),
    ("lead", "/concerns?box=submitted"),
    ("lead", "/services"),
    ("auditor", "/audit/events"),
    ("auditor", "/emergency-access"),
    ("admin", "/organisations"),
    ("admin", "/users"),
    ("admin", "/teams"),
]
CURSORS = {
    "late": forged(t=LATE),
    "early": forged(t=EARLY),
    "huge": forged(v=HUGE),
    "nul": forged(v="a\x00b"),
}


@pytest.mark.parametrize("cursor", list(CURSORS), ids=list(CURSORS))
@pytest.mark.parametrize(("who", "path"), LISTS, ids=[p for _, p in LISTS])
async def test_hostile_cursor_on_every_list(
    client: httpx.AsyncClient, rw: ReferralWorld, make_actor: Any, who: str, path: str, cursor: str
) -> None:
    actor = {
        "lead": rw.lead,
        "auditor": rw.world.auditor,
    }.get(who) or await make_actor("admin", org=f"org-{uuid.uuid4().hex[:8]}")
    url, _, query = (API + path.format(case=rw.case.id)).partition("?")
    params = dict([query.split("=")]) if query else {}
    first = await client.get(url, params=params, headers=actor.headers)
    assert first.status_code == 200, first.text
    r = await client.get(url, params={**params, "cursor": CURSORS[cursor]}, headers=actor.headers)
    assert refused(r)["errors"][0]["field"] == "cursor"


# --- NUL characters -------------------------------------------------------------------


async def test_nul_in_bodies(
    client: httpx.AsyncClient, rw: ReferralWorld, db: AsyncSession
) -> None:
    cases = await count(db, Case)
    orgs = await count(db, Organisation)
    r = await client.post(
        f"{API}/cases",
        json={"team_id": str(rw.world.marak.id), "summary": "a\x00b"},
        headers=rw.lead.headers,
    )
    assert refused(r)["errors"][0]["field"] == "summary"
    r = await client.post(
        f"{API}/persons",
        json={
            "case_id": str(rw.case.id),
            "role": "victim",
            "person": {"given_name": "Ai\x00no", "family_name": "X"},
        },
        headers=rw.lead.headers,
    )
    refused(r)
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json=referral_body(rw, reason="Needs support \x00 now."),
        headers=rw.lead.headers,
    )
    assert refused(r)["errors"][0]["field"] == "reason"
    admin_token = rw.lead.headers  # refused before any permission check
    r = await client.post(
        f"{API}/organisations",
        json={"code": "nul-org", "name": "N\x00", "kind": "ngo"},
        headers=admin_token,
    )
    refused(r)
    assert await count(db, Case) == cases and await count(db, Organisation) == orgs


@pytest.mark.parametrize(
    ("who", "path", "params"),
    [
        ("auditor", "/audit/events", {"action": "case.\x00"}),
        ("auditor", "/audit/events", {"target_id": "\x00"}),
        ("lead", "/services", {"area": "Hel\x00sinki"}),
        ("lead", "/cases", {"cursor": "\x00"}),
    ],
)
async def test_nul_in_query_strings(
    client: httpx.AsyncClient, rw: ReferralWorld, who: str, path: str, params: dict[str, str]
) -> None:
    actor = rw.lead if who == "lead" else rw.world.auditor
    r = await client.get(API + path, params=params, headers=actor.headers)
    body = refused(r)
    assert body["errors"][0]["location"] == "query"
    assert body["errors"][0]["field"] == next(iter(params))


async def test_nul_in_path_params(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await client.get(f"{API}/instruments/marak%00ric/1", headers=rw.lead.headers)
    assert refused(r)["errors"][0]["location"] == "path"


async def test_nul_in_headers(
    client: httpx.AsyncClient, rw: ReferralWorld, db: AsyncSession
) -> None:
    cases = await count(db, Case)
    r = await client.post(
        f"{API}/cases",
        json={"team_id": str(rw.world.marak.id)},
        headers={**rw.lead.headers, "Idempotency-Key": "key\x00one"},
    )
    refused(r)
    r = await client.get(
        f"{API}/assessments/{uuid.uuid4()}",
        headers={**rw.lead.headers, "Accept-Language": "fi\x00"},
    )
    assert refused(r)["errors"][0]["location"] == "header"
    assert await count(db, Case) == cases


# --- duplicate keys, non-finite numbers, nesting -------------------------------------------


async def test_duplicate_keys_are_422(
    client: httpx.AsyncClient, rw: ReferralWorld, db: AsyncSession
) -> None:
    cases = await count(db, Case)
    team, other = rw.world.marak.id, rw.world.hah.id
    r = await client.post(
        f"{API}/cases",
        content=f'{{"team_id": "{team}", "team_id": "{other}"}}'.encode(),
        headers={**rw.lead.headers, "Content-Type": "application/json"},
    )
    body = refused(r)
    assert body["errors"][0] == {
        "field": "team_id",
        "location": "body",
        "reason": "duplicate_key",
        "message": "The key appears more than once in the object",
    }
    assert await count(db, Case) == cases


async def test_nested_duplicate_key_is_named_by_its_path(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    person = '{"given_name": "A", "given_name": "B", "family_name": "C"}'
    body = '{"case_id": "%s", "role": "victim", "person": ' + person + "}"
    r = await client.post(
        f"{API}/persons",
        content=(body % rw.case.id).encode(),
        headers={**rw.lead.headers, "Content-Type": "application/json"},
    )
    assert refused(r)["errors"][0]["field"] == "person.given_name"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_numbers_are_422(
    client: httpx.AsyncClient, rw: ReferralWorld, literal: str
) -> None:
    r = await client.post(
        f"{API}/cases",
        content=f'{{"team_id": "{rw.world.marak.id}", "x": {literal}}}'.encode(),
        headers={**rw.lead.headers, "Content-Type": "application/json"},
    )
    refused(r)


async def test_deep_nesting_is_422(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await client.post(
        f"{API}/cases",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**rw.lead.headers, "Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"] == "application/problem+json"


async def test_ordinary_bodies_still_pass(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await client.post(
        f"{API}/cases",
        json={
            "team_id": str(rw.world.marak.id),
            "summary": "  Ok  ",
            "next_review_at": "2030-01-01T00:00:00+14:00",
        },
        headers=rw.lead.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["summary"] == "Ok"

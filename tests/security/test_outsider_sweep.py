"""Someone outside every case tries every route and finds nothing recorded in one.

The demo seed (the same one ``casecoord serve --demo`` uses) fills the database
with cases of every scheme, people with protected facts, notes, consents,
assessments, incidents, referrals and must-not-receive entries. Then a user of
every role, in an organisation that has no part in any case, calls every route
of the app (walked from ``app.routes``, so a new route is swept without
anyone adding it here) with the ids of those real objects in its path. No
response may carry anything recorded in a case: names, case references,
summaries, note texts, protected facts or the ids of objects the caller did not
name. No response may be a 5xx.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import POLICY, Scope
from app.auth.principal import Role
from app.platform.config import Settings
from tests.routes import api_routes
from tests.world import TokenFactory, make_org, make_user

#: Which table a path parameter names (ids are taken from the seeded rows).
PARAM_TABLES = {
    "case_id": "cases",
    "assessment_id": "assessments",
    "member_id": "case_members",
    "exclusion_id": "case_exclusions",
    "note_id": "case_notes",
    "participant_id": "case_participants",
    "measure_id": "plan_measures",
    "concern_id": "concerns",
    "grant_id": "emergency_grants",
    "meeting_id": "meetings",
    "person_id": "persons",
    "consent_id": "person_consents",
    "referral_id": "referrals",
}

#: Reads that are not case data: the directory, the service catalogue, the
#: instruments, the caller's own profile. Their responses are still scanned.
NOT_CASE_DATA = re.compile(
    r"^/(healthz|readyz|metrics|openapi\.json|docs|redoc)|"
    r"^/api/v1/(me|organisations|teams|users|services|instruments)(/|$)"
)

#: Auditors review access, by design across cases: the audit log and the
#: emergency-grant queue name target ids (never content), and the access report
#: lists who read a person. Case and person ids may appear there, content may not.
AUDITOR_ID_ROUTES = re.compile(r"^/api/v1/(audit/|emergency-access|persons/\{person_id\}/access)")


def _uuid(value: Any) -> uuid.UUID:
    """A raw id column value (a UUID on PostgreSQL, 32 hex digits on SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif hasattr(value, "__dict__"):
        yield from _strings(vars(value))


async def _seed(db: AsyncSession, settings: Settings) -> None:
    from app.demo.seed import _seed as seed_demo

    await seed_demo(db, settings)
    await db.commit()


async def _ids(db: AsyncSession) -> dict[str, str]:
    ids = {}
    for param, table in PARAM_TABLES.items():
        found = await db.scalar(text(f"SELECT id FROM {table} ORDER BY id LIMIT 1"))  # noqa: S608
        ids[param] = str(_uuid(found)) if found is not None else str(uuid.uuid4())
    return ids


async def _canaries(db: AsyncSession) -> tuple[set[str], set[str]]:
    """(content recorded in cases, ids of case-scoped rows)."""
    from app.demo import persons as demo_persons

    content: set[str] = set()
    for sql in (
        "SELECT given_name FROM persons",
        "SELECT family_name FROM persons",
        "SELECT reference FROM cases",
        "SELECT summary FROM cases",
        "SELECT text FROM case_notes",
    ):
        content.update(str(v) for v in (await db.scalars(text(sql))).all() if v)
    content.update(s for s in _strings(demo_persons.PEOPLE) if len(s) >= 10)
    content = {c for c in content if len(c) >= 5}
    ids: set[str] = set()
    for table in ("cases", "persons", "case_notes", "case_participants", "referrals"):
        rows = (await db.scalars(text(f"SELECT id FROM {table}"))).all()  # noqa: S608
        ids.update(str(_uuid(v)) for v in rows)
    return content, ids


def _fill(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "code":
            return "marak-ric"
        if name == "version":
            return "1"
        return ids.get(name, str(uuid.uuid4()))

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", value, path)


@pytest.fixture
async def seeded(db: AsyncSession, settings: Settings) -> dict[str, Any]:
    await _seed(db, settings)
    content, case_ids = await _canaries(db)
    assert len(content) > 10 and case_ids, "the demo seed recorded something to look for"
    return {"ids": await _ids(db), "content": content, "row_ids": case_ids}


async def test_an_outsider_of_every_role_reaches_nothing_recorded_in_a_case(
    client: httpx.AsyncClient,
    app: Any,
    db: AsyncSession,
    tokens: TokenFactory,
    seeded: dict[str, Any],
) -> None:
    outsider_org = await make_org(db, "police")
    outsiders = {role: await make_user(db, tokens, outsider_org, role.value) for role in Role}
    # An integration client holding every scope there is.
    client_actor = outsiders[Role.INTEGRATION] = await make_user(
        db, tokens, outsider_org, "integration"
    )
    every_scope = " ".join([*Scope, *sorted(str(action) for action in POLICY)])
    token = tokens.mint(client_actor.sub, ["integration"], outsider_org.code, scope=every_scope)
    client_actor.headers = {"Authorization": f"Bearer {token}"}
    await db.commit()
    ids = seeded["ids"]
    leaks: list[str] = []
    errors: list[str] = []
    opened: list[str] = []
    calls = 0
    for route in api_routes(app):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            url = _fill(route.path, ids)
            named = set(re.findall(r"[0-9a-f-]{36}", url))
            for role, actor in outsiders.items():
                body: Any = {} if method in {"POST", "PUT", "PATCH"} else None
                headers = {**actor.headers, "If-Match": '"1"'}
                r = await client.request(method, url, json=body, headers=headers)
                calls += 1
                where = f"{role.value} {method} {route.path} -> {r.status_code}"
                if r.status_code >= 500:
                    errors.append(where)
                read_only = "search" in url or route.path == "/api/v1/audit/verify"
                if 200 <= r.status_code < 300 and method != "GET" and not read_only:
                    opened.append(where)
                body_text = r.text
                for canary in seeded["content"]:
                    if canary in body_text:
                        leaks.append(f"{where}: content {canary[:20]!r}")
                if role == Role.AUDITOR and AUDITOR_ID_ROUTES.match(route.path):
                    continue
                for row_id in seeded["row_ids"] - named:
                    if row_id in body_text:
                        leaks.append(f"{where}: id {row_id}")
                if (
                    200 <= r.status_code < 300
                    and route.path.count("{") > 0
                    and not NOT_CASE_DATA.match(route.path)
                    and not (role == Role.AUDITOR and AUDITOR_ID_ROUTES.match(route.path))
                ):
                    opened.append(where)
    assert calls > 500
    assert errors == [], errors
    assert leaks == [], leaks
    assert opened == [], opened

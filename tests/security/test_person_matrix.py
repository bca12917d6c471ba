"""Role x person route x relation, with expectations GENERATED from the POLICY table.

A person is reached only through a case: the relation is the caller's relation
to a case the person takes part in (lead, member, emergency-grant holder, or
none of those). For every /api/v1/persons route and every role:

- a role not in the POLICY row -> 403;
- ``case_member``: lead, member or emergency holder -> 2xx; anyone else -> 404;
- ``case_writer``: lead or member -> 2xx; emergency holder -> 403; others -> 404;
- ``listed`` (search): 2xx, and the person is *listed* only for its readers
  (everyone else gets at most a match handle);
- ``none`` (the auditor's access report): 2xx.

A persons route missing here fails :func:`test_every_person_route_is_in_the_matrix`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import POLICY, Action
from app.auth.principal import Role
from app.cases.models import Case, CaseParticipant
from app.persons import identity
from app.persons.models import Consent, Person
from tests.cases.factories import (
    Actor,
    add_grant,
    add_member,
    add_participant,
    make_case,
    make_org,
    make_team,
    make_user,
)
from tests.conftest import TokenFactory
from tests.persons.factories import add_consent, new_code
from tests.security import matrix
from tests.security.matrix import CASE_RELATIONS, IN_TEAM, READERS

RELATIONS = CASE_RELATIONS


@dataclass
class Fixture:
    case: Case
    person: Person
    participant: CaseParticipant
    consent: Consent
    code: str


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    action: Action
    ok: int = 200
    body: Callable[[Fixture], dict[str, Any]] | None = None
    if_match: Callable[[Fixture], int] | None = None
    lists_person: bool = False


P = "/api/v1/persons/{person_id}"
#: A case's facts about the person: reached through that case (the matrix's case).
F = "/api/v1/cases/{case_id}/persons/{person_id}/facts"
NAMES = {"given_name": "Aino", "family_name": "Testi"}
ROUTES = [
    RouteSpec(
        "POST",
        "/api/v1/persons",
        Action.PERSON_CREATE,
        201,
        lambda f: {"case_id": str(f.case.id), "role": "other", "person": NAMES},
    ),
    RouteSpec(
        "POST",
        "/api/v1/persons/search",
        Action.PERSON_SEARCH,
        body=lambda f: {"identity_code": f.code},
        lists_person=True,
    ),
    RouteSpec("GET", P, Action.PERSON_READ),
    RouteSpec(
        "PATCH",
        P,
        Action.PERSON_UPDATE,
        body=lambda f: {"reason": "Spelling.", "given_name": "Aini", "case_id": str(f.case.id)},
        if_match=lambda f: f.person.version,
    ),
    RouteSpec("GET", P + "/history", Action.PERSON_HISTORY_READ),
    RouteSpec("GET", F, Action.PERSON_FACTS_READ),
    RouteSpec(
        "PATCH",
        F,
        Action.PERSON_FACTS_UPDATE,
        body=lambda f: {"reason": "New phone.", "phones": [{"number": "+358 40 1"}]},
        if_match=lambda f: 0,
    ),
    RouteSpec("GET", F + "/history", Action.PERSON_FACTS_HISTORY_READ),
    RouteSpec("GET", P + "/consents", Action.CONSENT_READ),
    RouteSpec(
        "POST",
        P + "/consents",
        Action.CONSENT_WRITE,
        201,
        lambda f: {
            "case_id": str(f.case.id),
            "basis": "consent",
            "scope": "marak_sharing",
            "given_by": "person",
            "method": "oral",
        },
    ),
    RouteSpec(
        "POST", P + "/consents/{consent_id}/withdrawal", Action.CONSENT_WRITE, body=lambda f: {}
    ),
    RouteSpec("GET", P + "/access-report", Action.PERSON_ACCESS_REPORT),
]


def expected_status(spec: RouteSpec, role: Role, relation: str) -> int:
    """What POLICY says this role in this relation gets (tests/security/matrix.py)."""
    return matrix.expected_status(spec.action, role, relation, spec.ok)


def _is_person_route(path: str) -> bool:
    return path.startswith("/api/v1/persons") or "/persons/{person_id}" in path


def test_every_person_route_is_in_the_matrix(app: Any) -> None:
    matrix.assert_matrix_covers(app, _is_person_route, ROUTES)


def test_every_person_action_is_probed() -> None:
    person_actions = {a for a in POLICY if str(a).startswith("person.")}
    assert person_actions == {s.action for s in ROUTES}


class Probe:
    def __init__(self, db: AsyncSession, tokens: TokenFactory, app: Any) -> None:
        self.db, self.tokens = db, tokens
        self.keyring = app.state.keyring.get()

    async def setup(self) -> None:
        db, tokens = self.db, self.tokens
        self.owner_org = await make_org(db, "police")
        self.other_org = await make_org(db, "social_services")
        self.team = await make_team(db, self.owner_org, "marak")
        self.owner = await make_user(db, tokens, self.owner_org, "police", teams=(self.team,))
        self.actors: dict[tuple[Role, str], Actor] = {}
        for role in Role:
            for relation in RELATIONS:
                org = self.other_org if relation in ("other_org", "emergency") else self.owner_org
                teams = (self.team,) if relation in IN_TEAM else ()
                self.actors[(role, relation)] = await make_user(
                    db, tokens, org, role.value, teams=teams
                )
        self.shared = await self.fixture(list(self.actors.items()))

    async def fixture(self, relations: list[tuple[tuple[Role, str], Actor]]) -> Fixture:
        db = self.db
        case = await make_case(db, self.team, self.owner)
        code = new_code()
        participant = await add_participant(db, case, self.owner)
        person = await db.get(Person, participant.person_id)
        assert person is not None
        person.identity_code_index = identity.blind_index(self.keyring, code)
        consent = await add_consent(db, person.id, self.owner, case_id=case.id)
        for (_role, relation), actor in relations:
            if relation in ("lead", "member"):
                await add_member(db, case, actor, relation)
            elif relation == "emergency":
                await add_grant(db, case, actor)
        await db.commit()
        return Fixture(case, person, participant, consent, code)


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
async def test_matrix(
    spec: RouteSpec, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, app: Any
) -> None:
    probe = Probe(db, tokens, app)
    await probe.setup()
    mismatches = []
    for role in Role:
        for relation in RELATIONS:
            actor = probe.actors[(role, relation)]
            want = expected_status(spec, role, relation)
            changes = spec.method != "GET" and not spec.lists_person
            f = (
                await probe.fixture([((role, relation), actor)])
                if want < 300 and changes
                else probe.shared
            )
            headers = dict(actor.headers)
            if spec.if_match is not None:
                headers["If-Match"] = f'"{spec.if_match(f)}"'
            url = spec.path.format(
                person_id=f.person.id, consent_id=f.consent.id, case_id=f.case.id
            )
            body = spec.body(f) if spec.body else None
            r = await client.request(spec.method, url, json=body, headers=headers)
            if r.status_code != want:
                mismatches.append(f"{role}/{relation}: got {r.status_code}, want {want}")
                continue
            if r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json"
            if spec.lists_person and r.status_code == 200:
                listed = str(f.person.id) in {item["id"] for item in r.json()["items"]}
                if listed != (relation in READERS):
                    mismatches.append(f"{role}/{relation}: listed={listed}")
                if not listed and r.json()["match"] is None:
                    mismatches.append(f"{role}/{relation}: no match handle")
    assert not mismatches, "\n".join(mismatches)

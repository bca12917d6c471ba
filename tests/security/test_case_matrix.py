"""Role x case route x relation, with expectations GENERATED from the POLICY table.

For every case route (and the emergency-access review routes) this walks every
role against a fresh case in each relation to it, and asserts the status the
POLICY row implies:

- a role not in the row -> 403 (before anything is loaded);
- ``case_member`` (read): lead, member or emergency-grant holder -> 2xx, others 404;
- ``case_writer``: lead or member -> 2xx, emergency holder 403, others 404;
- ``case_lead``: lead -> 2xx, member or emergency holder 403, others 404;
- ``case_outsider`` (break the glass): members and grant holders 409, others 2xx;
- ``team_member`` (open a case): in the team -> 2xx, others 403;
- ``listed`` / ``none``: 2xx, and a list shows the case only to its readers.

A case route that is not in ROUTES fails :func:`test_every_case_route_is_in_the_matrix`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import POLICY
from app.auth.principal import Role
from app.cases.models import (
    CaseExclusion,
)
from app.directory.models import Organisation
from tests.cases.factories import (
    Actor,
    add_grant,
    add_member,
    add_note,
    add_participant,
    add_person,
    make_case,
    make_org,
    make_team,
    make_user,
)
from tests.conftest import TokenFactory
from tests.persons.factories import add_consent
from tests.risk.factories import make_assessment
from tests.security import matrix
from tests.security.case_routes import ROUTES, Fixture, RouteSpec
from tests.security.matrix import CASE_RELATIONS, IN_TEAM, READERS

RELATIONS = CASE_RELATIONS


def expected_status(spec: RouteSpec, role: Role, relation: str) -> int:
    """What POLICY says this role in this relation gets (tests/security/matrix.py);
    opening a case names its team in the body, so an outsider gets 403."""
    return matrix.expected_status(spec.action, role, relation, spec.ok, outsider=403)


def _is_case_route(path: str) -> bool:
    if "/persons/{person_id}" in path:
        return False  # a case's facts about a person: tests/security/test_person_matrix.py
    return path.startswith(("/api/v1/cases", "/api/v1/emergency-access", "/api/v1/assessments"))


def test_every_case_route_is_in_the_matrix(app: Any) -> None:
    """Adding a case route without a matrix row fails here (and so does a stale row)."""
    matrix.assert_matrix_covers(app, _is_case_route, ROUTES)


def test_every_case_action_is_probed() -> None:
    case_actions = {a for a in POLICY if str(a).startswith(("case.", "emergency_access."))}
    assert case_actions == {s.action for s in ROUTES}


class Probe:
    """The people (one per role and relation) and the cases they are probed against."""

    def __init__(self, db: AsyncSession, tokens: TokenFactory) -> None:
        self.db = db
        self.tokens = tokens

    async def setup(self) -> None:
        db, tokens = self.db, self.tokens
        self.owner_org: Organisation = await make_org(db, "police")
        self.other_org = await make_org(db, "social_services")
        self.team = await make_team(db, self.owner_org, "marak")
        self.owner = await make_user(db, tokens, self.owner_org, "police", teams=(self.team,))
        self.colleague = await make_user(
            db, tokens, self.owner_org, "social_worker", teams=(self.team,)
        )
        self.newcomer = await make_user(
            db, tokens, self.owner_org, "health_worker", teams=(self.team,)
        )
        self.actors: dict[tuple[Role, str], Actor] = {}
        for role in Role:
            for relation in RELATIONS:
                org = self.other_org if relation in ("other_org", "emergency") else self.owner_org
                teams = (self.team,) if relation in IN_TEAM else ()
                self.actors[(role, relation)] = await make_user(
                    db, tokens, org, role.value, teams=teams
                )
        # Refusals change nothing, so they all probe one shared case.
        self.shared = await self.fixture(list(self.actors.items()))

    async def fixture(self, relations: list[tuple[tuple[Role, str], Actor]]) -> Fixture:
        db = self.db
        case = await make_case(db, self.team, self.owner, status="on_agenda")
        other_member = await add_member(db, case, self.colleague)
        participant = await add_participant(db, case, self.owner)
        note = await add_note(db, case, self.owner)
        grant = await add_grant(db, case, self.colleague)
        assessment = await make_assessment(db, case, self.owner)
        # The victim consented, so Marak steps that disclose the case may proceed.
        await add_consent(db, participant.person_id, self.owner)
        basis = await add_consent(db, participant.person_id, self.owner, "service_referral")
        relative = await add_person(db, self.owner, "Risto", "Sukulainen")
        exclusion = CaseExclusion(
            case_id=case.id,
            person_id=relative.id,
            reason_plain="A relative.",
            added_by=self.owner.id,
        )
        db.add(exclusion)
        for (_role, relation), actor in relations:
            if relation in ("lead", "member"):
                await add_member(db, case, actor, relation)
            elif relation == "emergency":
                await add_grant(db, case, actor)
        await db.commit()
        return Fixture(
            self.team,
            case,
            other_member,
            self.newcomer,
            participant,
            note,
            grant,
            exclusion,
            assessment,
            extras={"basis": basis},
        )


def _url(spec: RouteSpec, f: Fixture) -> str:
    return spec.path.format(
        case_id=f.case.id,
        member_id=f.other_member.id,
        participant_id=f.participant.id,
        note_id=f.note.id,
        grant_id=f.grant.id,
        exclusion_id=f.exclusion.id,
        measure_id=f.extras["measure"].id if "measure" in f.extras else "none",
        assessment_id=f.assessment.id,
    )


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
async def test_matrix(
    spec: RouteSpec, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> None:
    probe = Probe(db, tokens)
    await probe.setup()
    mismatches = []
    for role in Role:
        for relation in RELATIONS:
            actor = probe.actors[(role, relation)]
            want = expected_status(spec, role, relation)
            # A probe that should succeed changes state: give it a case of its own.
            f = (
                await probe.fixture([((role, relation), actor)])
                if want < 300 and (spec.method != "GET" or spec.lists_case)
                else probe.shared
            )
            if spec.arrange is not None:
                await spec.arrange(db, f)
            headers = dict(actor.headers)
            if spec.if_match is not None:
                headers["If-Match"] = f'"{spec.if_match(f)}"'
            body = spec.body(f) if spec.body else None
            r = await client.request(spec.method, _url(spec, f), json=body, headers=headers)
            if r.status_code != want:
                mismatches.append(
                    f"{role}/{relation}: got {r.status_code}, want {want}: {r.text[:200]}"
                )
                continue
            if r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json"
            if spec.lists_case and r.status_code == 200:
                ids = {item["id"] for item in r.json()["items"]}
                listed = str(f.case.id) in ids
                if listed != (relation in READERS):
                    mismatches.append(f"{role}/{relation}: listed={listed}")
    assert not mismatches, "\n".join(mismatches)

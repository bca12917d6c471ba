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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import POLICY, Action
from app.auth.principal import Role
from app.cases.models import (
    Case,
    CaseExclusion,
    CaseMember,
    CaseNote,
    CaseParticipant,
    EmergencyGrant,
)
from app.directory.models import Organisation, Team
from app.referrals.models import ServiceEntry
from app.risk.models import Assessment
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
from tests.plans.factories import ensure_plan
from tests.risk.factories import DRAFT, external_body, incident_body, make_assessment
from tests.security import matrix
from tests.security.matrix import CASE_RELATIONS, IN_TEAM, READERS

RELATIONS = CASE_RELATIONS


@dataclass
class Fixture:
    """Fresh objects for one (route, role, relation) probe."""

    team: Team
    case: Case
    other_member: CaseMember
    newcomer: Actor  # a team member who is not yet in the case
    participant: CaseParticipant
    note: CaseNote
    grant: EmergencyGrant
    exclusion: CaseExclusion
    assessment: Assessment  # a complete marak-ric@1 draft
    extras: dict[str, Any] = field(default_factory=dict)  # arranged per route


Body = Callable[[Fixture], dict[str, Any]] | None


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    action: Action
    ok: int = 200
    body: Body = None
    if_match: Callable[[Fixture], int] | None = None
    lists_case: bool = False
    #: Extra objects the route needs in the probed case (e.g. a plan), made on demand.
    arrange: Callable[[AsyncSession, Fixture], Awaitable[None]] | None = None


CASE = "/api/v1/cases/{case_id}"
ASSESSMENT = "/api/v1/assessments/{assessment_id}"


def _av(f: Fixture) -> int:
    return f.assessment.version


def _plan(agreed: bool = False) -> Callable[[AsyncSession, Fixture], Awaitable[None]]:
    """Arrange the case's plan (with one measure owned by the case's organisation)."""

    async def arrange(db: AsyncSession, f: Fixture) -> None:
        if "plan" not in f.extras:
            plan, measure = await ensure_plan(db, f.case, agreed=agreed)
            await db.commit()
            f.extras.update(plan=plan, measure=measure)

    return arrange


def _pv(f: Fixture) -> int:
    return int(f.extras["plan"].version)


def _mv(f: Fixture) -> int:
    return int(f.extras["measure"].version)


async def _referable(db: AsyncSession, f: Fixture) -> None:
    """A service and the participant's basis for referring them to it."""
    if "service" not in f.extras:
        org = await make_org(db, "ngo")
        service = ServiceEntry(
            provider_organisation_id=org.id,
            service_type="victim_support",
            name="Victim support (matrix)",
            areas=["Test"],
            languages=["fi"],
            accepts_electronic_referrals=True,
            response_time_target_days=7,
        )
        db.add(service)
        await db.commit()
        f.extras["service"] = service


def _referral(f: Fixture) -> dict[str, Any]:
    return {
        "subject_person_id": str(f.participant.person_id),
        "service_id": str(f.extras["service"].id),
        "reason": "Support after the assault.",
        "shared_fields": ["name"],
        "basis_id": str(f.extras["basis"].id),
    }


PLAN = CASE + "/plan"
MEASURE = PLAN + "/measures/{measure_id}"
ROUTES: list[RouteSpec] = [
    RouteSpec(
        "POST", "/api/v1/cases", Action.CASE_CREATE, 201, lambda f: {"team_id": str(f.team.id)}
    ),
    RouteSpec("GET", "/api/v1/cases", Action.CASE_LIST, lists_case=True),
    RouteSpec(
        "POST",
        "/api/v1/cases/search",
        Action.CASE_SEARCH,
        body=lambda f: {"reference": f.case.reference},
        lists_case=True,
    ),
    RouteSpec("GET", CASE, Action.CASE_READ),
    RouteSpec(
        "PATCH",
        CASE,
        Action.CASE_UPDATE,
        body=lambda f: {"summary": "Updated."},
        if_match=lambda f: f.case.version,
    ),
    RouteSpec(
        "POST",
        CASE + "/transitions",
        Action.CASE_TRANSITION,
        body=lambda f: {"to": "meeting"},
        if_match=lambda f: f.case.version,
    ),
    RouteSpec("GET", CASE + "/transitions", Action.CASE_READ),
    RouteSpec("GET", CASE + "/members", Action.CASE_MEMBER_READ),
    RouteSpec(
        "POST",
        CASE + "/members",
        Action.CASE_MEMBER_MANAGE,
        201,
        lambda f: {"user_id": str(f.newcomer.id)},
    ),
    RouteSpec("GET", CASE + "/members/{member_id}", Action.CASE_MEMBER_READ),
    RouteSpec(
        "PATCH",
        CASE + "/members/{member_id}",
        Action.CASE_MEMBER_MANAGE,
        body=lambda f: {"case_role": "support_person"},
        if_match=lambda f: f.other_member.version,
    ),
    RouteSpec(
        "DELETE",
        CASE + "/members/{member_id}",
        Action.CASE_MEMBER_MANAGE,
        204,
        if_match=lambda f: f.other_member.version,
    ),
    RouteSpec("GET", CASE + "/participants", Action.CASE_PARTICIPANT_READ),
    RouteSpec(
        "POST",
        CASE + "/participants",
        Action.CASE_PARTICIPANT_WRITE,
        201,
        lambda f: {"role": "child", "person": {"given_name": "Aino", "family_name": "Testi"}},
    ),
    RouteSpec("GET", CASE + "/participants/{participant_id}", Action.CASE_PARTICIPANT_READ),
    RouteSpec(
        "PATCH",
        CASE + "/participants/{participant_id}",
        Action.CASE_PARTICIPANT_WRITE,
        body=lambda f: {"role": "other"},
        if_match=lambda f: f.participant.version,
    ),
    RouteSpec(
        "DELETE",
        CASE + "/participants/{participant_id}",
        Action.CASE_PARTICIPANT_WRITE,
        204,
        if_match=lambda f: f.participant.version,
    ),
    RouteSpec("GET", CASE + "/notes", Action.CASE_NOTE_READ),
    RouteSpec(
        "POST",
        CASE + "/notes",
        Action.CASE_NOTE_WRITE,
        201,
        lambda f: {"text": "Spoke with the school.", "kind": "fact"},
    ),
    RouteSpec("GET", CASE + "/notes/{note_id}", Action.CASE_NOTE_READ),
    RouteSpec(
        "POST",
        CASE + "/emergency-access",
        Action.CASE_EMERGENCY_ACCESS,
        201,
        lambda f: {"reason": "Threat to life reported tonight; need the safety plan."},
    ),
    RouteSpec("GET", CASE + "/emergency-access", Action.CASE_EMERGENCY_GRANTS_READ),
    RouteSpec("GET", CASE + "/must-not-receive", Action.CASE_EXCLUSION_READ),
    RouteSpec(
        "POST",
        CASE + "/must-not-receive",
        Action.CASE_EXCLUSION_WRITE,
        201,
        lambda f: {"person_id": str(f.participant.person_id), "reason": "The perpetrator."},
    ),
    RouteSpec(
        "DELETE",
        CASE + "/must-not-receive/{exclusion_id}",
        Action.CASE_EXCLUSION_WRITE,
        204,
        if_match=lambda f: f.exclusion.version,
    ),
    # risk (app/risk): assessments, the case's risk, incidents, external-tool records
    RouteSpec("GET", CASE + "/assessments", Action.CASE_ASSESSMENT_READ),
    RouteSpec("POST", CASE + "/assessments", Action.CASE_ASSESSMENT_WRITE, 201, lambda f: DRAFT),
    RouteSpec("GET", CASE + "/risk", Action.CASE_ASSESSMENT_READ),
    RouteSpec("GET", ASSESSMENT, Action.CASE_ASSESSMENT_READ),
    RouteSpec("PATCH", ASSESSMENT, Action.CASE_ASSESSMENT_WRITE, body=lambda f: {}, if_match=_av),
    RouteSpec("POST", ASSESSMENT + "/submit", Action.CASE_ASSESSMENT_WRITE, if_match=_av),
    RouteSpec("GET", CASE + "/incidents", Action.CASE_INCIDENT_READ),
    RouteSpec("POST", CASE + "/incidents", Action.CASE_INCIDENT_WRITE, 201, incident_body),
    RouteSpec("GET", CASE + "/external-assessments", Action.CASE_EXTERNAL_READ),
    RouteSpec(
        "POST", CASE + "/external-assessments", Action.CASE_EXTERNAL_WRITE, 201, external_body
    ),
    # plans (app/plans): versions, measures, the printable document
    RouteSpec("GET", PLAN, Action.CASE_PLAN_READ, arrange=_plan()),
    RouteSpec("POST", PLAN, Action.CASE_PLAN_WRITE, 201, lambda f: {}),
    RouteSpec(
        "PATCH",
        PLAN,
        Action.CASE_PLAN_WRITE,
        body=lambda f: {"summary": "x"},
        if_match=_pv,
        arrange=_plan(),
    ),
    RouteSpec("GET", PLAN + "/versions", Action.CASE_PLAN_READ, arrange=_plan()),
    RouteSpec(
        "POST",
        PLAN + "/agree",
        Action.CASE_PLAN_AGREE,
        body=lambda f: {},
        if_match=_pv,
        arrange=_plan(),
    ),
    RouteSpec(
        "POST",
        PLAN + "/revisions",
        Action.CASE_PLAN_WRITE,
        201,
        lambda f: {"reason": "New incident."},
        if_match=_pv,
        arrange=_plan(agreed=True),
    ),
    RouteSpec(
        "POST",
        PLAN + "/review",
        Action.CASE_PLAN_AGREE,
        body=lambda f: {"note": "Reviewed."},
        if_match=_pv,
        arrange=_plan(),
    ),
    RouteSpec("GET", PLAN + "/measures", Action.CASE_PLAN_READ, arrange=_plan()),
    RouteSpec(
        "POST",
        PLAN + "/measures",
        Action.CASE_PLAN_WRITE,
        201,
        lambda f: {
            "category": "shelter",
            "description": "Shelter place.",
            "responsible_organisation_id": str(f.case.owner_organisation_id),
        },
        arrange=_plan(),
    ),
    RouteSpec(
        "PATCH",
        MEASURE,
        Action.CASE_PLAN_WRITE,
        body=lambda f: {"description": "Changed."},
        if_match=_mv,
        arrange=_plan(),
    ),
    RouteSpec(
        "POST",
        MEASURE + "/status",
        Action.CASE_MEASURE_STATUS,
        body=lambda f: {"status": "in_progress"},
        if_match=_mv,
        arrange=_plan(),
    ),
    RouteSpec("GET", PLAN + "/document", Action.CASE_PLAN_DOCUMENT, arrange=_plan(agreed=True)),
    # referrals (app/referrals): made in the case by its active members
    RouteSpec(
        "POST", CASE + "/referrals", Action.CASE_REFERRAL_CREATE, 201, _referral, arrange=_referable
    ),
    RouteSpec("GET", CASE + "/referrals", Action.CASE_REFERRAL_LIST),
    RouteSpec("GET", "/api/v1/emergency-access", Action.EMERGENCY_ACCESS_READ),
    RouteSpec("GET", "/api/v1/emergency-access/{grant_id}", Action.EMERGENCY_ACCESS_READ),
    RouteSpec(
        "POST",
        "/api/v1/emergency-access/{grant_id}/review",
        Action.EMERGENCY_ACCESS_REVIEW,
        body=lambda f: {"finding": "justified"},
        if_match=lambda f: f.grant.version,
    ),
]


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
            case_id=case.id, person_id=relative.id, reason="A relative.", added_by=self.owner.id
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

"""The case routes of the generated matrix (test_case_matrix.py): per route, its
action, the status of success, a body and the objects it needs. Expectations are
not here: they are derived from POLICY (tests/security/matrix.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from app.cases.models import (
    Case,
    CaseExclusion,
    CaseMember,
    CaseNote,
    CaseParticipant,
    EmergencyGrant,
)
from app.directory.models import Team
from app.referrals.models import ServiceEntry
from app.risk.models import Assessment
from tests.cases.factories import Actor, make_org
from tests.plans.factories import ensure_plan
from tests.risk.factories import DRAFT, external_body, incident_body


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

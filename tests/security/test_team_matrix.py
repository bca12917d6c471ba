"""Role x route x relation for the directory, meetings and concerns, GENERATED from POLICY.

Every role is probed in each relation to a team (``in_team``, ``same_org``,
``other_org``: tests/security/matrix.py) against the routes of /api/v1/me,
/organisations, /users, /teams, /meetings and /concerns:

- a role not in the POLICY row -> 403;
- ``none`` / ``listed``: 2xx (a concern read singly is seen only by its team);
- ``own_organisation`` (managing teams): same organisation -> 2xx, else 403,
  unless the role is exempt (``RELATION_EXEMPT``: the admin);
- ``team_member`` (meetings, screening): in the team -> 2xx; else 404 for an
  object loaded through the caller's teams, 403 for a team named in the body;
- ``case_writer`` (minutes): the caller writes the agenda's case when in the team.

A route of these families missing here fails :func:`test_every_team_route_is_in_the_matrix`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import INTEGRATION_SCOPES, POLICY, Action, Relation, Scope
from app.auth.principal import Role
from app.cases.models import Case
from app.concerns.models import Concern
from app.directory.models import Organisation, Team, User
from app.plans.models import AgendaItem, Meeting
from tests.cases.factories import Actor, add_member, make_case, make_org, make_team, make_user
from tests.conftest import TokenFactory
from tests.security import matrix
from tests.security.matrix import TEAM_RELATIONS

API = "/api/v1"
AS_CASE = {"in_team": "member", "same_org": "no_relation", "other_org": "other_org"}
CASE_RULES = {Relation.CASE_MEMBER, Relation.CASE_WRITER, Relation.CASE_LEAD}


@dataclass
class Fixture:
    """Fresh objects for one probe: a team of the owner organisation with a member,
    a meeting of the probed team with a case on its agenda (and one to add), and a
    concern to that team."""

    team: Team  # another team of the owner organisation (directory writes)
    member: Actor  # a member of ``team``
    newcomer: Actor  # not yet in ``team``
    meeting: Meeting
    case: Case  # on the meeting's agenda
    concern_id: str
    extras: dict[str, Any] = field(default_factory=dict)


Body = Callable[["Probe", Fixture], dict[str, Any]] | None


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    action: Action
    ok: int = 200
    body: Body = None
    if_match: Callable[[Fixture], int] | None = None
    outsider: int = 404
    seen_by: frozenset[str] | None = None
    query: str = ""


def _concern(probe: Probe, f: Fixture | None = None) -> dict[str, Any]:
    return {
        "team_id": str(probe.team.id),
        "subject": {"given_name": "Henri", "family_name": "Huoli", "birth_date": "1995-01-09"},
        "description": "Threatening messages about the old workplace.",
        "legal_basis": "threat_to_life_or_health_notification",
    }


def _team(probe: Probe, f: Fixture) -> dict[str, Any]:
    org = probe.owner_org.id
    return {"name": "New team", "kind": "marak", "organisation_id": str(org), "area": "Test"}


def _meeting(probe: Probe, f: Fixture) -> dict[str, Any]:
    return {"team_id": str(probe.team.id), "scheduled_at": "2030-01-15T09:00:00+00:00"}


def _minutes(probe: Probe, f: Fixture) -> dict[str, Any]:
    return {"case_id": str(f.case.id), "kind": "decision", "text": "Agreed to meet again."}


M = API + "/meetings/{meeting_id}"
T = API + "/teams/{team_id}"
ROUTES = [
    RouteSpec("GET", API + "/me", Action.ME_READ),
    RouteSpec("GET", API + "/organisations", Action.ORGANISATION_READ),
    RouteSpec(
        "POST",
        API + "/organisations",
        Action.ORGANISATION_MANAGE,
        201,
        lambda p, f: {"code": f"org-{f.team.id.hex[:12]}", "name": "New", "kind": "other"},
    ),
    RouteSpec("GET", API + "/organisations/{org_id}", Action.ORGANISATION_READ),
    RouteSpec(
        "PATCH",
        API + "/organisations/{org_id}",
        Action.ORGANISATION_MANAGE,
        body=lambda p, f: {"name": "Renamed"},
        if_match=lambda f: int(f.extras["org"].version),
    ),
    RouteSpec("GET", API + "/users", Action.USER_READ),
    RouteSpec("GET", API + "/users/{user_id}", Action.USER_READ),
    RouteSpec(
        "PATCH",
        API + "/users/{user_id}",
        Action.USER_MANAGE,
        body=lambda p, f: {"disabled": False},
        if_match=lambda f: int(f.extras["user_version"]),
    ),
    RouteSpec("GET", API + "/teams", Action.TEAM_READ),
    RouteSpec("POST", API + "/teams", Action.TEAM_MANAGE, 201, _team, outsider=403),
    RouteSpec("GET", T, Action.TEAM_READ),
    RouteSpec(
        "PATCH",
        T,
        Action.TEAM_MANAGE,
        body=lambda p, f: {"name": "Renamed"},
        if_match=lambda f: int(f.team.version),
    ),
    RouteSpec("GET", T + "/members", Action.TEAM_READ),
    RouteSpec(
        "POST",
        T + "/members",
        Action.TEAM_MEMBER_MANAGE,
        201,
        lambda p, f: {"user_id": str(f.newcomer.id)},
    ),
    RouteSpec("DELETE", T + "/members/{user_id}", Action.TEAM_MEMBER_MANAGE, 204),
    # concerns: submitted to the probed team; read singly by its members only
    RouteSpec("POST", API + "/concerns", Action.CONCERN_SUBMIT, 201, _concern),
    RouteSpec("GET", API + "/concerns", Action.CONCERN_READ, query="?box=inbox"),
    RouteSpec(
        "GET",
        API + "/concerns/{concern_id}",
        Action.CONCERN_READ,
        seen_by=frozenset({"in_team"}),
    ),
    RouteSpec(
        "POST",
        API + "/concerns/{concern_id}/screening",
        Action.CONCERN_SCREEN,
        body=lambda p, f: {"decision": "under_consideration"},
        if_match=lambda f: int(f.extras["concern_version"]),
    ),
    # meetings of the probed team
    RouteSpec("POST", API + "/meetings", Action.MEETING_MANAGE, 201, _meeting, outsider=403),
    RouteSpec("GET", API + "/meetings", Action.MEETING_LIST, outsider=200),
    RouteSpec("GET", M, Action.MEETING_READ),
    RouteSpec(
        "POST",
        M + "/agenda",
        Action.MEETING_MANAGE,
        201,
        lambda p, f: {"case_id": str(f.extras["carried_over"].id)},
    ),
    RouteSpec(
        "POST",
        M + "/attendance",
        Action.MEETING_MANAGE,
        body=lambda p, f: {"organisation_id": str(p.owner_org.id)},
    ),
    RouteSpec("POST", M + "/close", Action.MEETING_MANAGE, if_match=lambda f: f.meeting.version),
    RouteSpec("GET", M + "/minutes", Action.MINUTES_READ, seen_by=frozenset({"in_team"})),
    RouteSpec("POST", M + "/minutes", Action.MINUTES_WRITE, 201, _minutes),
]

_FAMILIES = ("/me", "/organisations", "/users", "/teams", "/meetings", "/concerns")


def _in_scope(path: str) -> bool:
    return path.startswith(tuple(API + f for f in _FAMILIES)) and path != API + "/me/tasks"


def test_every_team_route_is_in_the_matrix(app: Any) -> None:
    matrix.assert_matrix_covers(app, _in_scope, ROUTES)


class Probe:
    """One caller per role and relation to a Marak team of the owner organisation."""

    def __init__(self, db: AsyncSession, tokens: TokenFactory, client: httpx.AsyncClient) -> None:
        self.db, self.tokens, self.client = db, tokens, client

    async def setup(self) -> None:
        db, tokens = self.db, self.tokens
        self.owner_org: Organisation = await make_org(db, "police")
        self.other_org = await make_org(db, "social_services")
        self.team = await make_team(db, self.owner_org, "marak")
        self.coordinator = await make_user(
            db, tokens, self.owner_org, "coordinator", teams=(self.team,)
        )
        self.submitter = await make_user(db, tokens, self.other_org, "health_worker")
        self.actors: dict[tuple[Role, str], Actor] = {}
        for role in Role:
            for relation in TEAM_RELATIONS:
                org = self.other_org if relation == "other_org" else self.owner_org
                teams = (self.team,) if relation == "in_team" else ()
                self.actors[(role, relation)] = await make_user(
                    db, tokens, org, role.value, teams=teams
                )
        self.shared = await self.fixture(list(self.actors.values()))

    def scoped(self, actor: Actor, action: str) -> Actor:
        """An integration client holds the action's scope (every scope if none grants it)."""
        if Role.INTEGRATION.value not in actor.roles:
            return actor
        needed = INTEGRATION_SCOPES.get(action)  # type: ignore[call-overload]
        scope = str(needed) if needed is not None else " ".join(Scope)
        token = self.tokens.mint(actor.sub, actor.roles, actor.org.code, scope=scope)
        return Actor(
            actor.id, actor.sub, actor.org, actor.roles, {"Authorization": f"Bearer {token}"}
        )

    async def fixture(self, writers: list[Actor]) -> Fixture:
        """``writers``: the probed callers; those in the team also write the agenda's case."""
        db = self.db
        team = await make_team(db, self.owner_org, "marak")
        member = await make_user(db, self.tokens, self.owner_org, "police", teams=(team,))
        newcomer = await make_user(db, self.tokens, self.owner_org, "police")
        case = await make_case(db, self.team, self.coordinator, status="on_agenda")
        meeting = Meeting(
            team_id=self.team.id,
            scheduled_at=datetime.now(UTC) + timedelta(days=7),
            kind="monthly",
            chair_id=self.coordinator.id,
            created_by=self.coordinator.id,
        )
        db.add(meeting)
        await db.flush()
        db.add(
            AgendaItem(
                meeting_id=meeting.id,
                case_id=case.id,
                position=1,
                reason="referral",
                added_by=self.coordinator.id,
            )
        )
        # A case carried over from an earlier meeting (no gate to pass on the way).
        carried_over = await make_case(db, self.team, self.coordinator, status="on_agenda")
        in_team = {a.id for (_role, rel), a in self.actors.items() if rel == "in_team"}
        for actor in writers:
            if actor.id in in_team:
                await add_member(db, case, actor, "member")
                await add_member(db, carried_over, actor, "member")
        org = await make_org(db, "other")
        user = await db.get(User, member.id)
        assert user is not None
        await db.commit()
        r = await self.client.post(
            API + "/concerns", json=_concern(self), headers=self.submitter.headers
        )
        assert r.status_code == 201, r.text
        concern = await db.get(Concern, uuid.UUID(r.json()["id"]))
        assert concern is not None
        f = Fixture(team, member, newcomer, meeting, case, str(concern.id))
        f.extras.update(
            carried_over=carried_over,
            org=org,
            user_version=user.version,
            concern_version=concern.version,
        )
        return f


def _url(spec: RouteSpec, probe: Probe, f: Fixture) -> str:
    return (
        spec.path.format(
            org_id=f.extras["org"].id,
            user_id=f.member.id,
            team_id=f.team.id,
            concern_id=f.concern_id,
            meeting_id=f.meeting.id,
        )
        + spec.query
    )


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
async def test_matrix(
    spec: RouteSpec, client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> None:
    probe = Probe(db, tokens, client)
    await probe.setup()
    mismatches = []
    for role in Role:
        for relation in TEAM_RELATIONS:
            actor = probe.scoped(probe.actors[(role, relation)], str(spec.action))
            want = matrix.expected_status(
                spec.action,
                role,
                # a case rule (the minutes'): those in the team write the agenda's case
                AS_CASE[relation] if POLICY[spec.action][1] in CASE_RULES else relation,
                spec.ok,
                outsider=spec.outsider,
                seen_by=spec.seen_by,
            )
            changes = spec.method != "GET"
            f = (
                await probe.fixture([probe.actors[(role, relation)]])
                if want < 300 and changes
                else probe.shared
            )
            headers = dict(actor.headers)
            if spec.if_match is not None:
                headers["If-Match"] = f'"{spec.if_match(f)}"'
            body = spec.body(probe, f) if spec.body else None
            r = await client.request(spec.method, _url(spec, probe, f), json=body, headers=headers)
            if r.status_code != want:
                mismatches.append(
                    f"{role}/{relation}: got {r.status_code}, want {want}: {r.text[:200]}"
                )
            elif r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json"
    assert not mismatches, "\n".join(mismatches)

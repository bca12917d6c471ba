"""Role x referral route x relation, with expectations GENERATED from the POLICY table.

Every route under /api/v1/referrals and /fhir/R4 is probed by every role in
each relation to a referral (the case-level /cases/{id}/referrals routes are in
test_case_matrix.py):

- a role not in the action's POLICY row -> 403 problem (integration clients also
  need the action in their token's scope; one without it gets 403);
- the referring side (a case reader: lead, member, or emergency-grant holder):
  reads allowed; writes for lead and member, 403 for the emergency holder;
- the providing side (a provider role of the receiving organisation, the
  referral being sent): reads and provider moves allowed;
- anyone else (non-member, another provider organisation...) -> 404.

Every refused request leaves the referral (and the case's referrals) unchanged.
A referral or FHIR route missing here fails
:func:`test_every_referral_route_is_in_the_matrix`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import INTEGRATION_SCOPES, POLICY, Action, Scope
from app.auth.principal import Role
from app.cases.models import Case
from app.persons.models import Consent
from app.platform.config import Settings
from app.platform.crypto import KeyRing, load_keyring
from app.platform.db import utcnow
from app.referrals.models import Referral, ReferralEvent, ServiceEntry
from app.referrals.transitions import expire_due
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
from tests.persons.factories import add_consent
from tests.problems import assert_problem
from tests.referrals.conftest import add_service
from tests.security import matrix
from tests.security.matrix import READERS, WRITERS

API = "/api/v1"
RELATIONS = ("lead", "member", "emergency", "no_relation", "receiving_org", "other_provider_org")
#: Who reads the referral's case (the referring side), and who may answer for the
#: receiving organisation: referral readers who are not case readers.
CASE_READER_ROLES = matrix.roles_of(Action.CASE_READ)
PROVIDER_ROLES = matrix.roles_of(Action.REFERRAL_READ) - CASE_READER_ROLES
REFERRAL_ACTIONS = {a for a in POLICY if str(a).startswith("referral.")}


def needed_scopes(action: Action) -> set[str]:
    """The action's integration scope; every scope where none grants it (none helps)."""
    scope = INTEGRATION_SCOPES.get(action)
    return {scope} if scope is not None else set(Scope)


PROVIDER_KEYS = {
    "id", "status", "urgency", "service_id", "service_name", "requester_name",
    "requester_organisation", "sent_at", "response_due_at", "overdue", "accepted_at",
    "ended_at", "shared_fields", "sharing_withdrawn", "shared", "note_to_provider", "reason_code",
    "reason_text", "outcome", "outcome_text", "allowed_transitions", "version", "view",
}  # fmt: skip

CANCEL = {"to": "cancelled", "reason_code": "no_longer_needed", "reason_text": "Arranged."}
RECEIVE = {"to": "received"}
PATCH = {"reason": "Rewritten after the network meeting.", "urgency": "asap"}


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    action: Action
    state: str  # the referral's state when probed: draft | requested | expired
    #: The body for a caller on the referring side (True) or another (False).
    body: Callable[[bool], dict[str, Any] | None] = lambda referrer: None
    if_match: bool = False
    lists: bool = False
    fhir: str | None = None


R = API + "/referrals/{referral_id}"
ROUTES = [
    RouteSpec("GET", API + "/referrals", Action.REFERRAL_LIST, "requested", lists=True),
    RouteSpec("GET", R, Action.REFERRAL_READ, "requested"),
    RouteSpec("PATCH", R, Action.REFERRAL_UPDATE, "draft", lambda _: PATCH, if_match=True),
    RouteSpec(
        "POST",
        R + "/transitions",
        Action.REFERRAL_TRANSITION,
        "requested",
        lambda referrer: CANCEL if referrer else RECEIVE,
        if_match=True,
    ),
    RouteSpec("POST", R + "/acknowledge-expiry", Action.REFERRAL_UPDATE, "expired", if_match=True),
    RouteSpec(
        "GET", "/fhir/R4/ServiceRequest/{referral_id}", Action.REFERRAL_READ, "requested",
        fhir="ServiceRequest",
    ),
    RouteSpec(
        "GET", "/fhir/R4/Task/{referral_id}", Action.REFERRAL_READ, "requested", fhir="Task"
    ),
]  # fmt: skip


def sides(role: Role, relation: str, spec: RouteSpec) -> tuple[bool, bool]:
    """(on the referring side, on the providing side) for this caller and referral."""
    referrer = role in CASE_READER_ROLES and relation in READERS
    provider = role in PROVIDER_ROLES and relation == "receiving_org" and spec.state != "draft"
    return referrer, provider


def expected_status(spec: RouteSpec, role: Role, relation: str) -> int:
    """What POLICY says this role in this relation gets (tests/security/matrix.py)."""
    return matrix.expected_status(
        spec.action,
        role,
        relation,
        200,
        sides=sides(role, relation, spec),
        reads=spec.method == "GET",
    )


def _is_referral_route(path: str) -> bool:
    if path.startswith(("/api/v1/referrals", "/fhir")):
        return True
    # Referral routes inside a case are probed by test_case_matrix.py.
    return "referral" in path and not path.startswith("/api/v1/cases/")


def test_every_referral_route_is_in_the_matrix(app: Any) -> None:
    matrix.assert_matrix_covers(app, _is_referral_route, ROUTES)


def test_every_referral_action_is_probed() -> None:
    assert REFERRAL_ACTIONS == {s.action for s in ROUTES}


class Probe:
    """One case with a referable victim, and one caller per role and relation."""

    def __init__(
        self, db: AsyncSession, tokens: TokenFactory, client: httpx.AsyncClient, keyring: KeyRing
    ) -> None:
        self.db, self.tokens, self.client, self.keyring = db, tokens, client, keyring

    async def setup(self, spec: RouteSpec) -> None:
        db, tokens = self.db, self.tokens
        owner_org = await make_org(db, "police")
        stranger_org = await make_org(db, "social_services")
        self.receiving_org = await make_org(db, "ngo")
        other_org = await make_org(db, "ngo")
        team = await make_team(db, owner_org, "marak")
        self.owner = await make_user(db, tokens, owner_org, "police", teams=(team,))
        self.case: Case = await make_case(db, team, self.owner, status="plan_active")
        victim = await add_participant(db, self.case, self.owner)
        self.victim_id = victim.person_id
        self.consent: Consent = await add_consent(
            db, victim.person_id, self.owner, "service_referral"
        )
        self.service: ServiceEntry = await add_service(db, self.receiving_org)
        await add_service(db, other_org)
        orgs = {
            "lead": owner_org,
            "member": owner_org,
            "emergency": stranger_org,
            "no_relation": stranger_org,
            "receiving_org": self.receiving_org,
            "other_provider_org": other_org,
        }
        self.actors: dict[tuple[Role, str], Actor] = {}
        for role in Role:
            for relation in RELATIONS:
                actor = await make_user(db, tokens, orgs[relation], role.value)
                if relation in WRITERS:
                    await add_member(db, self.case, actor, relation)
                elif relation == "emergency":
                    await add_grant(db, self.case, actor)
                if role == Role.INTEGRATION:
                    actor = self.scoped(actor, needed_scopes(spec.action))
                self.actors[(role, relation)] = actor
        # The receiving organisation's system, with every scope but the one needed.
        unscoped = await make_user(db, tokens, self.receiving_org, Role.INTEGRATION.value)
        self.unscoped = self.scoped(unscoped, set(Scope) - needed_scopes(spec.action))
        await db.commit()
        self.shared = await self.referral(spec.state)

    def scoped(self, actor: Actor, scopes: set[str]) -> Actor:
        token = self.tokens.mint(actor.sub, actor.roles, actor.org.code, scope=" ".join(scopes))
        return dataclasses.replace(actor, headers={"Authorization": f"Bearer {token}"})

    async def referral(self, state: str) -> Referral:
        """A fresh referral in ``state``, made through the API by the case's lead."""
        r = await self.client.post(
            f"{API}/cases/{self.case.id}/referrals",
            json={
                "subject_person_id": str(self.victim_id),
                "service_id": str(self.service.id),
                "reason": "Support after the assault in May.",
                "urgency": "urgent",
                "shared_fields": ["name"],
                "basis_id": str(self.consent.id),
            },
            headers=self.owner.headers,
        )
        assert r.status_code == 201, r.text
        rid = uuid.UUID(r.json()["id"])
        if state != "draft":
            r = await self.client.post(
                f"{API}/referrals/{rid}/transitions",
                json={"to": "requested"},
                headers={**self.owner.headers, "If-Match": f'"{r.json()["version"]}"'},
            )
            assert r.status_code == 200, r.text
        if state == "expired":
            past = utcnow() - timedelta(minutes=1)
            await self.db.execute(
                update(Referral).where(Referral.id == rid).values(expires_at=past)
            )
            assert await expire_due(self.db, self.keyring) == 1
            await self.db.commit()
        return await self.load(rid)

    async def load(self, rid: uuid.UUID) -> Referral:
        found = await self.db.scalar(
            select(Referral).where(Referral.id == rid).execution_options(populate_existing=True)
        )
        assert found is not None
        return found

    async def snapshot(self, referral: Referral) -> tuple[Any, ...]:
        """Everything a refused request must not change."""
        row = (
            await self.db.execute(
                select(
                    Referral.status, Referral.version, Referral.reason_enc, Referral.urgency,
                    Referral.shared_fields, Referral.expiry_acknowledged_at, Referral.updated_at,
                ).where(Referral.id == referral.id)
            )
        ).one()  # fmt: skip
        events = await self.db.scalar(
            select(func.count())
            .select_from(ReferralEvent)
            .where(ReferralEvent.referral_id == referral.id)
        )
        referrals = await self.db.scalar(
            select(func.count()).select_from(Referral).where(Referral.case_id == self.case.id)
        )
        return (*row, events, referrals)


async def _request(
    client: httpx.AsyncClient,
    spec: RouteSpec,
    actor: Actor,
    referral: Referral,
    body: dict[str, Any] | None,
) -> httpx.Response:
    headers = dict(actor.headers)
    if spec.if_match:
        headers["If-Match"] = f'"{referral.version}"'
    url = spec.path.format(referral_id=referral.id)
    return await client.request(spec.method, url, json=body, headers=headers)


def _check_allowed(
    spec: RouteSpec, r: httpx.Response, referral: Referral, side: tuple[bool, bool], relation: str
) -> list[str]:
    """What a successful response must hold for the caller's side."""
    referrer, provider = side
    problems = []
    if spec.lists:
        items = r.json()["items"]
        listed = str(referral.id) in {i["id"] for i in items}
        if listed != (referrer or provider):
            problems.append(f"listed={listed}")
        if not referrer and any("case_id" in i for i in items):
            problems.append("an inbox item carries case_id")
        return problems
    if spec.fhir is not None:
        body = r.json()
        if r.headers["content-type"] != "application/fhir+json":
            problems.append(f"content-type {r.headers['content-type']}")
        if body["resourceType"] != spec.fhir or body["id"] != str(referral.id):
            problems.append(f"got {body['resourceType']}/{body['id']}")
        return problems
    body = r.json()
    if body["id"] != str(referral.id):
        problems.append("another referral")
    if referrer:
        if "history" not in body or body["case_id"] != str(referral.case_id):
            problems.append("the referring side lacks the full view")
        if relation == "emergency" and body["allowed_transitions"] != []:
            problems.append(f"emergency reader offered {body['allowed_transitions']}")
    elif set(body) != PROVIDER_KEYS:
        problems.append(f"provider keys {sorted(set(body) ^ PROVIDER_KEYS)}")
    if spec.method == "PATCH" and (body["urgency"], body["reason"]) != ("asap", PATCH["reason"]):
        problems.append("PATCH did not apply")
    if spec.path.endswith("/transitions"):
        want = "cancelled" if referrer else "received"
        if body["status"] != want:
            problems.append(f"status {body['status']}, want {want}")
    if spec.path.endswith("/acknowledge-expiry") and body["expiry_acknowledged_at"] is None:
        problems.append("expiry not acknowledged")
    return problems


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
async def test_matrix(
    spec: RouteSpec,
    client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    settings: Settings,
) -> None:
    probe = Probe(db, tokens, client, load_keyring(settings))
    await probe.setup(spec)
    probes = [
        (role, relation, probe.actors[(role, relation)]) for role in Role for relation in RELATIONS
    ]
    probes.append((Role.INTEGRATION, "receiving_org/unscoped", probe.unscoped))
    mismatches = []
    for role, relation, actor in probes:
        scoped = relation != "receiving_org/unscoped"
        want = expected_status(spec, role, relation) if scoped else 403
        side = sides(role, relation, spec)
        referrer = side[0]
        if want < 300:
            writes = spec.method != "GET"
            referral = await probe.referral(spec.state) if writes else probe.shared
            r = await _request(client, spec, actor, referral, spec.body(referrer))
            if r.status_code != want:
                mismatches.append(f"{role}/{relation}: got {r.status_code}, want {want}: {r.text}")
                continue
            for problem in _check_allowed(spec, r, referral, side, relation):
                mismatches.append(f"{role}/{relation}: {problem}")
            continue
        # Refused: try the moves of both sides; nothing may change.
        bodies = {str(spec.body(True)): spec.body(True), str(spec.body(False)): spec.body(False)}
        for body in bodies.values():
            before = await probe.snapshot(probe.shared)
            r = await _request(client, spec, actor, probe.shared, body)
            if r.status_code != want:
                mismatches.append(f"{role}/{relation}: got {r.status_code}, want {want}: {r.text}")
                continue
            assert_problem(r, want)
            if await probe.snapshot(probe.shared) != before:
                mismatches.append(f"{role}/{relation}: a refused request changed the referral")
    assert not mismatches, "\n".join(mismatches)

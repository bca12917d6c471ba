"""The one set of test fixtures' building blocks: an ``Actor``, the people and
teams around a case (``World``), and role sets read from the policy table.

tests/conftest.py exposes them as fixtures: ``world`` (:func:`build_world`) and
``make_actor`` (a user registered through ``/me``, the same :class:`Actor`).
Arranging is direct and fast (no request per user); users are registered with
the issuer and subject their real signed tokens carry, so the first request
finds them. Domain factories (tests/<domain>/factories.py) build on these.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import POLICY, Action
from app.auth.principal import Principal, Role
from app.directory.models import Organisation, Team, TeamMembership, User
from app.platform.db import utcnow

ISSUER = "https://idp.test.invalid/realms/casecoord"
AUDIENCE = "casecoord-api"
KID = "test-key-1"


class TokenFactory:
    """Real RS256 tokens, minted with PyJWT (not the server's python-jose)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key

    def claims(self, sub: str, roles: list[str], org: str, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "name": f"Test {sub}",
            "org": org,
            "roles": roles,
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def encode(
        self,
        claims: dict[str, Any],
        headers: dict[str, Any] | None = None,
        algorithm: str = "RS256",
        key: Any = None,
    ) -> str:
        hdr = {"kid": KID, **(headers or {})}
        return jwt.encode(
            claims, key if key is not None else self.key, algorithm=algorithm, headers=hdr
        )

    def mint(
        self, sub: str = "user-1", roles: list[str] | None = None, org: str = "org-a", **extra: Any
    ) -> str:
        return self.encode(
            self.claims(sub, roles if roles is not None else ["police"], org, **extra)
        )


def short() -> str:
    return uuid.uuid4().hex[:10]


# --- roles, read from app/auth/policy.py (never copied by hand) ----------------------------


def allowed(action: Action) -> list[str]:
    """The roles POLICY allows for ``action``, sorted (for ``parametrize``)."""
    return sorted(role.value for role in POLICY[action][0])


def denied(action: Action) -> list[str]:
    """Every role POLICY refuses for ``action``, sorted."""
    roles = POLICY[action][0]
    return sorted(role.value for role in Role if role not in roles)


# --- people ------------------------------------------------------------------------------


@dataclass
class Actor:
    """A registered user with ready request headers (a real signed JWT)."""

    id: uuid.UUID
    sub: str
    org: Organisation
    roles: list[str]
    headers: dict[str, str] = field(repr=False)

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    def principal(self) -> Principal:
        """The caller as the directory resolves it (for calling services directly)."""
        return Principal(
            user_id=self.id,
            subject=self.sub,
            name=self.sub,
            organisation_id=self.org_id,
            organisation_code=self.org.code,
            roles=frozenset(Role(r) for r in self.roles),
        )


async def make_org(db: AsyncSession, kind: str = "other") -> Organisation:
    org = Organisation(code=f"org-{short()}", name="Test organisation", kind=kind)
    db.add(org)
    await db.flush()
    return org


async def make_team(db: AsyncSession, org: Organisation, kind: str = "marak") -> Team:
    team = Team(name=f"{kind} team {short()}", kind=kind, organisation_id=org.id, area="Test")
    db.add(team)
    await db.flush()
    return team


async def make_user(
    db: AsyncSession,
    tokens: TokenFactory,
    org: Organisation,
    *roles: str,
    teams: tuple[Team, ...] = (),
    team_role: str = "member",
) -> Actor:
    sub = f"{'-'.join(roles) or 'none'}-{short()}"
    user = User(
        issuer=ISSUER,
        subject=sub,
        name=f"Test {sub}",
        organisation_id=org.id,
        roles=sorted(roles),
        last_seen_at=utcnow(),
    )
    db.add(user)
    await db.flush()
    for team in teams:
        db.add(TeamMembership(team_id=team.id, user_id=user.id, team_role=team_role))
    await db.flush()
    token = tokens.mint(sub, list(roles), org.code)
    return Actor(user.id, sub, org, list(roles), {"Authorization": f"Bearer {token}"})


async def join_team(db: AsyncSession, team: Team, actor: Actor, team_role: str = "member") -> None:
    db.add(TeamMembership(team_id=team.id, user_id=actor.id, team_role=team_role))
    await db.flush()


# --- the world around a case -------------------------------------------------------------


@dataclass
class World:
    org: Organisation  # the owner organisation (police)
    social: Organisation
    other: Organisation  # has nothing to do with the cases
    marak: Team
    ankkuri: Team
    hah: Team
    police: Actor  # in every team
    social_worker: Actor  # in marak and ankkuri
    health: Actor  # in marak
    advocate: Actor  # in marak (support person)
    coordinator: Actor  # marak team coordinator
    outsider_police: Actor  # police in another organisation, no team
    hah_police: Actor  # a second police officer in the HAH team
    auditor: Actor


async def build_world(db: AsyncSession, tokens: TokenFactory) -> World:
    org = await make_org(db, "police")
    social = await make_org(db, "social_services")
    other = await make_org(db, "police")
    marak = await make_team(db, social, "marak")
    ankkuri = await make_team(db, org, "ankkuri")
    hah = await make_team(db, org, "hah")
    world = World(
        org=org,
        social=social,
        other=other,
        marak=marak,
        ankkuri=ankkuri,
        hah=hah,
        police=await make_user(db, tokens, org, "police", teams=(marak, ankkuri, hah)),
        social_worker=await make_user(db, tokens, social, "social_worker", teams=(marak, ankkuri)),
        health=await make_user(db, tokens, social, "health_worker", teams=(marak,)),
        advocate=await make_user(db, tokens, social, "victim_advocate", teams=(marak,)),
        coordinator=await make_user(
            db, tokens, social, "coordinator", teams=(marak,), team_role="coordinator"
        ),
        outsider_police=await make_user(db, tokens, other, "police"),
        hah_police=await make_user(db, tokens, org, "police", teams=(hah,)),
        auditor=await make_user(db, tokens, other, "auditor"),
    )
    await db.commit()
    return world


async def open_case(client: httpx.AsyncClient, actor: Actor, team: Team, **body: object) -> dict:
    r = await client.post(
        "/api/v1/cases", json={"team_id": str(team.id), **body}, headers=actor.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json()) | {"etag": r.headers["etag"]}


def with_etag(actor: Actor, etag: str) -> dict[str, str]:
    return {**actor.headers, "If-Match": etag}

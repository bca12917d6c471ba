"""Demo organisations, teams and users for ``casecoord serve --demo``.

Everything here is fictional. Users are pre-registered with the same issuer
and subject the dev tokens carry, so the first request finds them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.casekeys.freetext import seal_text
from app.casekeys.service import case_cipher
from app.cases.models import Case, CaseMember, CaseNote
from app.demo.persons import add_participants
from app.demo.referrals import seed_demo_referrals
from app.demo.risk import seed_assessments
from app.demo.services import ensure_organisations, seed_services
from app.directory.models import Team, TeamMembership, User
from app.platform.config import Settings
from app.platform.crypto import KeyRing, load_keyring
from app.platform.db import Database


@dataclass(frozen=True)
class DemoUser:
    username: str
    name: str
    org: str
    roles: tuple[str, ...]
    teams: tuple[tuple[str, str], ...] = ()  # (team name, team role)
    scope: str | None = None


ORGANISATIONS = [
    ("helsinki-police", "Helsinki Police Department (demo)", "police"),
    ("helsinki-social", "Helsinki Social Services (demo)", "social_services"),
    ("helsinki-health", "Helsinki Health Services (demo)", "health_services"),
    ("helsinki-youth", "Helsinki Youth Services (demo)", "youth_services"),
    ("victim-support", "Victim Support Finland (demo)", "ngo"),
    ("helsinki-victim-services", "Helsinki victim services (demo)", "ngo"),
    ("casecoord-ops", "casecoord operations (demo)", "other"),
    ("municipal-system", "Municipal social-service system (demo)", "social_services"),
]

TEAMS = [
    ("Ankkuri Helsinki", "ankkuri", "helsinki-police", "Helsinki"),
    ("Marak Helsinki", "marak", "helsinki-social", "Helsinki"),
    ("HAH Helsinki", "hah", "helsinki-police", "Helsinki"),
]

USERS = [
    DemoUser(
        "police",
        "Paula Poliisi",
        "helsinki-police",
        ("police",),
        (("Ankkuri Helsinki", "member"), ("Marak Helsinki", "member"), ("HAH Helsinki", "member")),
    ),
    DemoUser(
        "social",
        "Sami Sosiaalityö",
        "helsinki-social",
        ("social_worker",),
        (("Ankkuri Helsinki", "member"), ("Marak Helsinki", "member")),
    ),
    DemoUser(
        "health",
        "Hanna Hoitaja",
        "helsinki-health",
        ("health_worker",),
        (("Ankkuri Helsinki", "member"), ("Marak Helsinki", "member")),
    ),
    DemoUser(
        "youth",
        "Nuutti Nuorisotyö",
        "helsinki-youth",
        ("youth_worker",),
        (("Ankkuri Helsinki", "member"),),
    ),
    DemoUser(
        "advocate",
        "Tuula Tukihenkilö",
        "victim-support",
        ("victim_advocate",),
        (("Marak Helsinki", "member"),),
    ),
    DemoUser(
        "coordinator",
        "Kaisa Koordinaattori",
        "helsinki-social",
        ("coordinator",),
        (("Marak Helsinki", "coordinator"), ("Ankkuri Helsinki", "coordinator")),
    ),
    DemoUser("provider", "Pekka Palvelu", "helsinki-victim-services", ("service_provider",)),
    DemoUser("auditor", "Aino Auditoija", "casecoord-ops", ("auditor",)),
    DemoUser("admin", "Antti Admin", "casecoord-ops", ("admin",)),
    DemoUser(
        "integration",
        "Municipal integration",
        "municipal-system",
        ("integration",),
        scope="referrals:read referrals:write concerns:write events:read",
    ),
]


def claims_for(user: DemoUser) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": f"demo-{user.username}",
        "name": user.name,
        "org": user.org,
        "roles": list(user.roles),
    }
    if user.scope:
        claims["scope"] = user.scope
    return claims


def find_user(username: str) -> DemoUser | None:
    return next((u for u in USERS if u.username == username), None)


async def _seed(session: AsyncSession, settings: Settings) -> int:
    orgs, created = await ensure_organisations(session, ORGANISATIONS)
    teams: dict[str, Team] = {}
    for name, kind, org_code, area in TEAMS:
        team = await session.scalar(select(Team).where(Team.name == name))
        if team is None:
            team = Team(name=name, kind=kind, organisation_id=orgs[org_code].id, area=area)
            session.add(team)
            created += 1
        teams[name] = team
    await session.flush()
    users: dict[str, User] = {}
    for demo in USERS:
        subject = f"demo-{demo.username}"
        user = await session.scalar(
            select(User).where(User.issuer == settings.oidc_issuer, User.subject == subject)
        )
        if user is None:
            user = User(
                issuer=settings.oidc_issuer,
                subject=subject,
                name=demo.name,
                organisation_id=orgs[demo.org].id,
                roles=sorted(demo.roles),
            )
            session.add(user)
            await session.flush()
            audit.record(
                session, None, "directory.user.registered", "user", user.id, purpose="demo seed"
            )
            created += 1
        users[demo.username] = user
        for team_name, team_role in demo.teams:
            team = teams[team_name]
            exists = await session.scalar(
                select(TeamMembership.id).where(
                    TeamMembership.team_id == team.id, TeamMembership.user_id == user.id
                )
            )
            if exists is None:
                session.add(TeamMembership(team_id=team.id, user_id=user.id, team_role=team_role))
    await session.flush()
    created += await _seed_cases(session, load_keyring(settings), users, teams)
    created += await seed_assessments(session, load_keyring(settings), users)
    created += await seed_services(session)
    created += await seed_demo_referrals(session, load_keyring(settings), settings, users)
    return created


@dataclass(frozen=True)
class DemoCase:
    """A fictional case: who leads it, who else is in it, who it is about."""

    reference: str
    team: str
    lead: str
    status: str
    summary: str
    members: tuple[tuple[str, str, str | None], ...]  # (user, case role, invite reason)
    participants: tuple[tuple[str, str, str], ...]  # (role, given name, family name)
    notes: tuple[tuple[str, str, str, str], ...]  # (author, visibility, kind, text)


CASES = [
    DemoCase(
        "ANK-DEMO-0001",
        "Ankkuri Helsinki",
        "police",
        "anchor_meeting",
        "A 15-year-old suspected of a first shoplifting offence; school reports absences.",
        (("social", "member", None), ("youth", "member", None), ("coordinator", "member", None)),
        (("young_person", "Eetu", "Esimerkki"), ("guardian", "Erja", "Esimerkki")),
        (("police", "case", "fact", "Pre-trial interview held with the guardian present."),),
    ),
    DemoCase(
        "MRK-DEMO-0001",
        "Marak Helsinki",
        "police",
        "referred",
        "Repeated domestic violence call-outs; the victim consented to the Marak referral.",
        (
            ("social", "member", None),
            ("health", "member", None),
            ("advocate", "support_person", None),
            ("coordinator", "member", None),
        ),
        (("victim", "Vilma", "Virtanen"), ("perpetrator", "Ville", "Virtanen")),
        (
            ("police", "case", "fact", "Three call-outs to the address in the last 12 months."),
            ("advocate", "profession", "opinion", "The victim seems to fear the weekends most."),
        ),
    ),
    DemoCase(
        "HAH-DEMO-0001",
        "HAH Helsinki",
        "police",
        "assessment",
        "Concerning messages about a former workplace, reported by a colleague.",
        (
            (
                "health",
                "member",
                "Psychiatric nurse already treating the person; joins by invitation.",
            ),
        ),
        (("person_of_concern", "Henri", "Huolestuttava"),),
        (("police", "organisation", "fact", "No weapons licence on record."),),
    ),
]


async def _seed_cases(
    session: AsyncSession, keyring: KeyRing, users: dict[str, User], teams: dict[str, Team]
) -> int:
    """One case per scheme, with members from several organisations (idempotent)."""
    created = 0
    for demo in CASES:
        if await session.scalar(select(Case.id).where(Case.reference == demo.reference)):
            continue
        team, lead = teams[demo.team], users[demo.lead]
        case = Case(
            id=uuid.uuid4(),
            scheme=team.kind,
            team_id=team.id,
            owner_organisation_id=lead.organisation_id,
            reference=demo.reference,
            status=demo.status,
            created_by=lead.id,
        )
        session.add(case)
        await session.flush()
        cipher = await case_cipher(session, keyring, case.id, create=True)
        seal_text(cipher, case, "summary", demo.summary)
        for username, role, reason in (*((demo.lead, "lead", None),), *demo.members):
            member = CaseMember(
                id=uuid.uuid4(),
                case_id=case.id,
                user_id=users[username].id,
                case_role=role,
                invited=reason is not None,
                added_by=lead.id,
            )
            seal_text(cipher, member, "invite_reason", reason)
            session.add(member)
        await add_participants(session, keyring, lead, case, demo.participants)
        for username, visibility, kind, text in demo.notes:
            author = users[username]
            note = CaseNote(
                id=uuid.uuid4(),
                case_id=case.id,
                author_id=author.id,
                author_name=author.name,
                author_organisation_id=author.organisation_id,
                author_role=sorted(author.roles)[0],
                visibility=visibility,
                kind=kind,
            )
            seal_text(cipher, note, "text", text)
            session.add(note)
        await session.flush()
        audit.record(session, None, "case.created", "case", case.id, purpose="demo seed")
        created += 1
    return created


async def seed_demo(settings: Settings) -> int:
    """Create the demo directory if it is missing. Returns how many rows were added."""
    db = Database.from_url(settings.effective_database_url)
    try:
        async with db.sessionmaker() as session, session.begin():
            return await _seed(session, settings)
    finally:
        await db.dispose()

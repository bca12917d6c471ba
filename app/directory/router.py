from __future__ import annotations

import uuid

from fastapi import Response, status

from app.audit import service as audit
from app.directory import service
from app.directory.dependencies import (
    ManagedMemberships,
    ManagedTeams,
    MeReader,
    OrganisationManager,
    OrganisationReader,
    TeamManager,
    TeamMemberManager,
    TeamReader,
    UserManager,
    UserReader,
)
from app.directory.schemas import (
    MeRead,
    MyTeam,
    OrganisationCreate,
    OrganisationKind,
    OrganisationRead,
    OrganisationUpdate,
    TeamCreate,
    TeamKind,
    TeamMemberAdd,
    TeamMemberRead,
    TeamRead,
    TeamUpdate,
    UserRead,
    UserUpdate,
)
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, tagged
from app.platform.idempotency import Idempotency, create_once, create_versioned
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, rendered
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["directory"])


@router.get("/me", response_model=MeRead)
async def get_me(session: SessionDep, principal: MeReader) -> MeRead:
    """The caller as the service sees them: organisation, roles and teams."""
    org = await service.get_organisation(session, principal.organisation_id)
    teams = await service.my_teams(session, principal)
    return MeRead(
        id=principal.user_id,
        subject=principal.subject,
        name=principal.name,
        organisation=OrganisationRead.model_validate(org),
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
        teams=[MyTeam(id=t.id, name=t.name, kind=TeamKind(t.kind), team_role=r) for t, r in teams],
    )


@router.get("/organisations", response_model=Page[OrganisationRead])
async def list_organisations(
    session: SessionDep,
    principal: OrganisationReader,
    kind: OrganisationKind | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[OrganisationRead]:
    """Organisations known to the service, by name."""
    found = await service.list_organisations(session, kind, cursor, limit)
    return rendered(found, OrganisationRead.model_validate)


@router.post("/organisations", response_model=OrganisationRead, status_code=201)
async def create_organisation(
    body: OrganisationCreate,
    session: SessionDep,
    principal: OrganisationManager,
    idempotency: Idempotency,
    response: Response,
) -> OrganisationRead:
    """Register an organisation. Admins only."""
    return await create_versioned(
        idempotency, session, principal, body, response,
        target_type="organisation",
        location="/api/v1/organisations/{id}",
        make=lambda: service.create_organisation(session, principal, body),
        load=lambda org_id: service.get_organisation(session, org_id),
        render=OrganisationRead.model_validate,
    )  # fmt: skip


@router.get("/organisations/{org_id}", response_model=OrganisationRead)
async def get_organisation(
    org_id: uuid.UUID,
    session: SessionDep,
    principal: OrganisationReader,
    response: Response,
) -> OrganisationRead:
    """One organisation."""
    org = await service.get_organisation(session, org_id)
    return tagged(response, org.version, OrganisationRead.model_validate(org))


@router.patch("/organisations/{org_id}", response_model=OrganisationRead)
async def update_organisation(
    org_id: uuid.UUID,
    body: OrganisationUpdate,
    session: SessionDep,
    principal: OrganisationManager,
    expected: IfMatch,
    response: Response,
) -> OrganisationRead:
    """Rename or deactivate an organisation. Needs If-Match."""
    org = await service.get_organisation(session, org_id)
    org = await service.update_organisation(session, principal, org, body, expected)
    return tagged(response, org.version, OrganisationRead.model_validate(org))


@router.get("/users", response_model=Page[UserRead])
async def list_users(
    session: SessionDep,
    principal: UserReader,
    organisation_id: uuid.UUID | None = None,
    disabled: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[UserRead]:
    """Users, filtered by organisation and status."""
    found = await service.list_users(session, organisation_id, disabled, cursor, limit)
    audit.record(session, principal, "directory.users.listed", "user", None)
    return rendered(found, UserRead.model_validate)


@router.get("/users/{user_id}", response_model=UserRead)
async def get_user(
    user_id: uuid.UUID,
    session: SessionDep,
    principal: UserReader,
    response: Response,
) -> UserRead:
    """One user."""
    user = await service.get_user(session, user_id)
    audit.record(session, principal, "directory.user.read", "user", user.id)
    return tagged(response, user.version, UserRead.model_validate(user))


@router.patch("/users/{user_id}", response_model=UserRead)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    session: SessionDep,
    principal: UserManager,
    expected: IfMatch,
    response: Response,
) -> UserRead:
    """Disable or re-enable a user, revoke their tokens, or move them to another
    organisation (their tokens must then claim it). Each takes effect at once."""
    user = await service.get_user(session, user_id)
    user = await service.update_user(session, principal, user, body, expected)
    return tagged(response, user.version, UserRead.model_validate(user))


@router.get("/teams", response_model=Page[TeamRead])
async def list_teams(
    session: SessionDep,
    principal: TeamReader,
    kind: TeamKind | None = None,
    organisation_id: uuid.UUID | None = None,
    mine: bool = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[TeamRead]:
    """Teams, filtered by organisation and kind."""
    found = await service.list_teams(
        session, kind, organisation_id, principal if mine else None, cursor, limit
    )
    return rendered(found, TeamRead.model_validate)


@router.post("/teams", response_model=TeamRead, status_code=201)
async def create_team(
    body: TeamCreate,
    session: SessionDep,
    principal: TeamManager,
    idempotency: Idempotency,
    response: Response,
    manage: ManagedTeams,
) -> TeamRead:
    """Create a team: an Ankkuri team, a Marak group or a HAH team."""
    return await create_versioned(
        idempotency, session, principal, body, response,
        target_type="team",
        location="/api/v1/teams/{id}",
        make=lambda: service.create_team(session, manage, body),
        load=lambda team_id: service.get_team(session, team_id),
        render=TeamRead.model_validate,
    )  # fmt: skip


@router.get("/teams/{team_id}", response_model=TeamRead)
async def get_team(
    team_id: uuid.UUID,
    session: SessionDep,
    principal: TeamReader,
    response: Response,
) -> TeamRead:
    """One team."""
    team = await service.get_team(session, team_id)
    return tagged(response, team.version, TeamRead.model_validate(team))


@router.patch("/teams/{team_id}", response_model=TeamRead)
async def update_team(
    team_id: uuid.UUID,
    body: TeamUpdate,
    session: SessionDep,
    principal: TeamManager,
    expected: IfMatch,
    response: Response,
    manage: ManagedTeams,
) -> TeamRead:
    """Rename or deactivate a team. Needs If-Match."""
    team = await manage.team(team_id)
    team = await service.update_team(session, principal, team, body, expected)
    return tagged(response, team.version, TeamRead.model_validate(team))


@router.get("/teams/{team_id}/members", response_model=list[TeamMemberRead])
async def list_team_members(
    team_id: uuid.UUID, session: SessionDep, principal: TeamReader
) -> list[TeamMemberRead]:
    """The users in a team."""
    team = await service.get_team(session, team_id)
    return [
        TeamMemberRead.model_validate(m) for m in await service.list_team_members(session, team)
    ]


@router.post("/teams/{team_id}/members", response_model=TeamMemberRead, status_code=201)
async def add_team_member(
    team_id: uuid.UUID,
    body: TeamMemberAdd,
    session: SessionDep,
    principal: TeamMemberManager,
    idempotency: Idempotency,
    response: Response,
    manage: ManagedMemberships,
) -> TeamMemberRead:
    """Add a user of the team's organisation to the team."""
    team = await manage.team(team_id)

    async def create() -> tuple[TeamMemberRead, uuid.UUID]:
        membership = await service.add_team_member(session, principal, team, body)
        response.headers["Location"] = f"/api/v1/teams/{team.id}/members"
        return TeamMemberRead.model_validate(membership), membership.id

    async def reread(target_id: str) -> TeamMemberRead:
        membership = await service.get_team_member(session, team, uuid.UUID(target_id))
        return TeamMemberRead.model_validate(membership)

    return await create_once(
        idempotency, session, principal, body, response, "team_membership", create, reread
    )


@router.delete(
    "/teams/{team_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def remove_team_member(
    team_id: uuid.UUID,
    user_id: uuid.UUID,
    session: SessionDep,
    principal: TeamMemberManager,
    manage: ManagedMemberships,
) -> Response:
    """Remove a membership. A membership has no mutable state, so no If-Match is needed."""
    team = await manage.team(team_id)
    await service.remove_team_member(session, principal, team, user_id)
    return Response(status_code=204)

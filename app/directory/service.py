"""Directory logic: just-in-time registration from tokens, and management."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.directory.models import Organisation, Team, TeamMembership, User
from app.directory.schemas import (
    OrganisationCreate,
    OrganisationUpdate,
    TeamCreate,
    TeamMemberAdd,
    TeamUpdate,
    UserUpdate,
)
from app.platform.etag import check_version
from app.platform.lookup import get_or_404, named_or_422
from app.platform.pagination import fetch_page, where_given
from app.platform.problems import (
    Conflict,
    NotFound,
    field_error,
)

if TYPE_CHECKING:
    from app.directory.dependencies import TeamManagement

# --- organisations ------------------------------------------------------------


async def get_organisation(session: AsyncSession, org_id: uuid.UUID) -> Organisation:
    return await get_or_404(session, Organisation, org_id, "No such organisation.")


async def list_organisations(
    session: AsyncSession, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[Organisation], str | None]:
    stmt = where_given(select(Organisation), (Organisation.kind, kind))
    return await fetch_page(
        session, stmt, Organisation.code, Organisation.id, cursor, limit, descending=False
    )


async def create_organisation(
    session: AsyncSession, actor: Principal, data: OrganisationCreate
) -> Organisation:
    if await session.scalar(select(Organisation.id).where(Organisation.code == data.code)):
        raise Conflict("An organisation with this code exists.")
    org = Organisation(code=data.code, name=data.name, kind=data.kind.value)
    session.add(org)
    await session.flush()
    audit.record(session, actor, "directory.organisation.created", "organisation", org.id)
    return org


async def update_organisation(
    session: AsyncSession,
    actor: Principal,
    org: Organisation,
    data: OrganisationUpdate,
    expected_version: int,
) -> Organisation:
    check_version(expected_version, org.version)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(org, field, value.value if hasattr(value, "value") else value)
    await session.flush()
    audit.record(session, actor, "directory.organisation.updated", "organisation", org.id)
    return org


# --- users -------------------------------------------------------------------


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    return await get_or_404(session, User, user_id, "No such user.")


async def list_users(
    session: AsyncSession,
    organisation_id: uuid.UUID | None,
    disabled: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[User], str | None]:
    stmt = where_given(
        select(User), (User.organisation_id, organisation_id), (User.disabled, disabled)
    )
    return await fetch_page(session, stmt, User.created_at, User.id, cursor, limit)


async def update_user(
    session: AsyncSession, actor: Principal, user: User, data: UserUpdate, expected_version: int
) -> User:
    check_version(expected_version, user.version)
    changes = data.model_dump(exclude_unset=True)
    if "disabled" in changes and changes["disabled"] is not None:
        user.disabled = changes["disabled"]
        action = "directory.user.disabled" if user.disabled else "directory.user.enabled"
        audit.record(session, actor, action, "user", user.id)
    if "tokens_valid_after" in changes:
        user.tokens_valid_after = changes["tokens_valid_after"]
        audit.record(session, actor, "directory.user.tokens_revoked", "user", user.id)
    moved_to = changes.get("organisation_id")
    if moved_to is not None and moved_to != user.organisation_id:
        if await session.get(Organisation, moved_to) is None:
            raise field_error(
                "organisation_id",
                "No such organisation.",
                "not_found",
            )
        user.organisation_id = moved_to
        audit.record(session, actor, "directory.user.organisation_moved", "user", user.id)
    await session.flush()
    return user


# --- teams ---------------------------------------------------------------------


async def get_team(session: AsyncSession, team_id: uuid.UUID) -> Team:
    return await get_or_404(session, Team, team_id, "No such team.")


async def list_teams(
    session: AsyncSession,
    kind: str | None,
    organisation_id: uuid.UUID | None,
    mine_of: Principal | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Team], str | None]:
    stmt = where_given(select(Team), (Team.kind, kind), (Team.organisation_id, organisation_id))
    if mine_of is not None:
        stmt = stmt.where(Team.id.in_(mine_of.team_ids))
    return await fetch_page(session, stmt, Team.created_at, Team.id, cursor, limit)


async def create_team(session: AsyncSession, manage: TeamManagement, data: TeamCreate) -> Team:
    await get_organisation(session, data.organisation_id)
    manage.organisation(data.organisation_id)
    actor = manage.principal
    team = Team(
        name=data.name, kind=data.kind.value, organisation_id=data.organisation_id, area=data.area
    )
    session.add(team)
    await session.flush()
    audit.record(session, actor, "directory.team.created", "team", team.id)
    return team


async def update_team(
    session: AsyncSession, actor: Principal, team: Team, data: TeamUpdate, expected_version: int
) -> Team:
    check_version(expected_version, team.version)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(team, field, value)
    await session.flush()
    audit.record(session, actor, "directory.team.updated", "team", team.id)
    return team


async def list_team_members(session: AsyncSession, team: Team) -> Sequence[TeamMembership]:
    stmt = (
        select(TeamMembership)
        .where(TeamMembership.team_id == team.id)
        .order_by(TeamMembership.created_at, TeamMembership.id)
    )
    return (await session.scalars(stmt)).all()


async def get_team_member(
    session: AsyncSession, team: Team, membership_id: uuid.UUID
) -> TeamMembership:
    """One membership of ``team`` (a replayed add reads it back)."""
    membership = await session.scalar(
        select(TeamMembership).where(
            TeamMembership.id == membership_id, TeamMembership.team_id == team.id
        )
    )
    if membership is None:
        raise NotFound("No such team membership.")
    return membership


async def add_team_member(
    session: AsyncSession, actor: Principal, team: Team, data: TeamMemberAdd
) -> TeamMembership:
    user = await named_or_422(session, User, data.user_id, "user_id", "No such user.")
    exists = await session.scalar(
        select(TeamMembership.id).where(
            TeamMembership.team_id == team.id, TeamMembership.user_id == user.id
        )
    )
    if exists:
        raise Conflict("The user is already a member of this team.")
    membership = TeamMembership(team_id=team.id, user_id=user.id, team_role=data.team_role.value)
    session.add(membership)
    await session.flush()
    audit.record(session, actor, "directory.team.member_added", "team", team.id)
    return membership


async def remove_team_member(
    session: AsyncSession, actor: Principal, team: Team, user_id: uuid.UUID
) -> None:
    membership = await session.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team.id, TeamMembership.user_id == user_id
        )
    )
    if membership is None:
        raise NotFound("That user is not a member of this team.")
    await session.delete(membership)
    await session.flush()
    audit.record(session, actor, "directory.team.member_removed", "team", team.id)


async def my_teams(session: AsyncSession, principal: Principal) -> list[tuple[Team, str]]:
    rows = (
        await session.execute(
            select(Team, TeamMembership.team_role)
            .join(TeamMembership, TeamMembership.team_id == Team.id)
            .where(TeamMembership.user_id == principal.user_id)
            .order_by(Team.name)
        )
    ).all()
    return [(team, role) for team, role in rows]

"""Permission-carrying dependencies for the directory routes (see auth/policy.py)."""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import caller_bound
from app.auth.markers import mark_loader, relation_of
from app.auth.policy import Action, Relation, relation_exempt, require
from app.auth.principal import Principal
from app.directory.models import Team
from app.directory.service import get_team
from app.platform.problems import Forbidden, denial, field_error

MeReader = Annotated[Principal, Depends(require(Action.ME_READ))]
OrganisationReader = Annotated[Principal, Depends(require(Action.ORGANISATION_READ))]
OrganisationManager = Annotated[Principal, Depends(require(Action.ORGANISATION_MANAGE))]
UserReader = Annotated[Principal, Depends(require(Action.USER_READ))]
UserManager = Annotated[Principal, Depends(require(Action.USER_MANAGE))]
TeamReader = Annotated[Principal, Depends(require(Action.TEAM_READ))]
TeamManager = Annotated[Principal, Depends(require(Action.TEAM_MANAGE))]
TeamMemberManager = Annotated[Principal, Depends(require(Action.TEAM_MEMBER_MANAGE))]


@dataclass(frozen=True)
class TeamManagement:
    """The ``own_organisation`` relation of managing teams: a coordinator manages only
    their own organisation's teams, an admin any (``RELATION_EXEMPT``). Called where
    the route reads the team (path) or the organisation (body), so the order of the
    route's other checks stays its own."""

    session: AsyncSession
    principal: Principal
    action: Action

    def organisation(self, organisation_id: uuid.UUID, team_id: uuid.UUID | None = None) -> None:
        principal = self.principal
        if relation_exempt(principal, self.action) or principal.organisation_id == organisation_id:
            return
        raise Forbidden(
            "You may manage only your own organisation's teams.",
            denied=denial(self.action, principal, "team", team_id, "other organisation"),
        )

    async def team(self, team_id: uuid.UUID) -> Team:
        team = await get_team(self.session, team_id)
        self.organisation(team.organisation_id, team.id)
        return team


def team_management(action: Action) -> Callable[..., Awaitable[TeamManagement]]:
    guard = require(action)
    relation = relation_of(action, Relation.OWN_ORGANISATION)
    make = partial(TeamManagement, action=action)
    return mark_loader(
        caller_bound(make, guard), "team", action, relation, "path:team_id", "body:organisation_id"
    )


ManagedTeams = Annotated[TeamManagement, Depends(team_management(Action.TEAM_MANAGE))]
ManagedMemberships = Annotated[TeamManagement, Depends(team_management(Action.TEAM_MEMBER_MANAGE))]


@dataclass(frozen=True)
class TeamLoader:
    """Loads the team a request body names, for an action whose relation is
    ``team_member``: the caller must be in it (cases are opened, meetings
    arranged and concerns screened only in one's own teams)."""

    session: AsyncSession
    principal: Principal
    action: Action

    async def __call__(self, team_id: uuid.UUID) -> Team:
        team = await self.session.get(Team, team_id)
        if team is None:
            raise field_error("team_id", "No such team.", "not_found")
        if team.id not in self.principal.team_ids:
            raise Forbidden(
                "You can do this only in a team you belong to.",
                denied=denial(self.action, self.principal, "team", team.id, "not in team"),
            )
        return team


def body_team(action: Action) -> Callable[..., Awaitable[TeamLoader]]:
    """Dependency factory: role check, then a loader for the body's ``team_id``."""
    guard = require(action)
    relation = relation_of(action, Relation.TEAM_MEMBER)
    make = partial(TeamLoader, action=action)
    return mark_loader(caller_bound(make, guard), "body_team", action, relation, "body:team_id")


CaseTeam = Annotated[TeamLoader, Depends(body_team(Action.CASE_CREATE))]
MeetingTeam = Annotated[TeamLoader, Depends(body_team(Action.MEETING_MANAGE))]

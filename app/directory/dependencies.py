"""Permission-carrying principals for the directory routes (see auth/policy.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal

MeReader = Annotated[Principal, Depends(require(Action.ME_READ))]
OrganisationReader = Annotated[Principal, Depends(require(Action.ORGANISATION_READ))]
OrganisationManager = Annotated[Principal, Depends(require(Action.ORGANISATION_MANAGE))]
UserReader = Annotated[Principal, Depends(require(Action.USER_READ))]
UserManager = Annotated[Principal, Depends(require(Action.USER_MANAGE))]
TeamReader = Annotated[Principal, Depends(require(Action.TEAM_READ))]
TeamManager = Annotated[Principal, Depends(require(Action.TEAM_MANAGE))]
TeamMemberManager = Annotated[Principal, Depends(require(Action.TEAM_MEMBER_MANAGE))]

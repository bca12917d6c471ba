"""Permission-carrying dependencies for the concern routes."""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import path_loader
from app.auth.markers import mark_loader, relation_of
from app.auth.policy import Action, Relation, require
from app.auth.principal import Principal
from app.cases.dependencies import CaseLoader, body_case
from app.concerns.models import Concern
from app.concerns.service import load_for_team

ConcernSubmitter = Annotated[Principal, Depends(require(Action.CONCERN_SUBMIT))]
ConcernReader = Annotated[Principal, Depends(require(Action.CONCERN_READ))]
#: The case a screening decision attaches the concern to (the body's ``case_id``).
ScreeningCase = Annotated[CaseLoader, Depends(body_case(Action.CONCERN_SCREEN))]


def team_concern(action: Action) -> Callable[..., Awaitable[Concern]]:
    """Dependency factory: role check, then the path's concern loaded through the
    caller's teams (the ``team_member`` relation the POLICY row declares)."""
    guard = require(action)
    relation = relation_of(action, Relation.TEAM_MEMBER)

    async def load(session: AsyncSession, principal: Principal, concern_id: uuid.UUID) -> Concern:
        return await load_for_team(session, principal, concern_id, action)

    dependency = path_loader(guard, "concern_id", load)

    return mark_loader(dependency, "concern", action, relation, "path:concern_id")


#: The concern to screen: one sent to a team of the caller's.
ScreenedConcern = Annotated[Concern, Depends(team_concern(Action.CONCERN_SCREEN))]

"""Permission-carrying dependencies for the plan and meeting routes."""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import caller_bound
from app.auth.markers import mark_loader
from app.auth.policy import Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import CaseAccess
from app.cases.dependencies import CaseLoader, body_case, case_access
from app.plans import meetings
from app.plans.models import Meeting

PlanReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_READ))]
PlanWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_WRITE))]
PlanAgreer = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_AGREE))]
PlanDocumenter = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_DOCUMENT))]
MeasureStatusChanger = Annotated[CaseAccess, Depends(case_access(Action.CASE_MEASURE_STATUS))]

MeetingReader = Annotated[Principal, Depends(require(Action.MEETING_READ))]
#: The list of meetings: the role decides; the query keeps the caller's teams' only.
MeetingLister = Annotated[Principal, Depends(require(Action.MEETING_LIST))]
MeetingManager = Annotated[Principal, Depends(require(Action.MEETING_MANAGE))]
MinutesReader = Annotated[Principal, Depends(require(Action.MINUTES_READ))]
MinutesWriter = Annotated[Principal, Depends(require(Action.MINUTES_WRITE))]


@dataclass(frozen=True)
class MeetingLoader:
    """Loads the path's meeting through the team rule (a meeting of one of the
    caller's teams, else 404), for the route's action. Called where the route
    reads the meeting, so the order of the route's other checks stays its own."""

    session: AsyncSession
    principal: Principal
    action: Action

    async def __call__(self, meeting_id: uuid.UUID) -> Meeting:
        return await meetings.get_meeting(self.session, self.principal, meeting_id, self.action)


def meeting_loader(action: Action) -> Callable[..., Awaitable[MeetingLoader]]:
    guard = require(action)
    make = partial(MeetingLoader, action=action)
    return mark_loader(
        caller_bound(make, guard), "meeting", action, Relation.TEAM_MEMBER, "path:meeting_id"
    )


MeetingToRead = Annotated[MeetingLoader, Depends(meeting_loader(Action.MEETING_READ))]
MeetingToManage = Annotated[MeetingLoader, Depends(meeting_loader(Action.MEETING_MANAGE))]
MinutesToRead = Annotated[MeetingLoader, Depends(meeting_loader(Action.MINUTES_READ))]
MinutesToWrite = Annotated[MeetingLoader, Depends(meeting_loader(Action.MINUTES_WRITE))]
#: The case the body names: put on the agenda, or written into the minutes.
AgendaCase = Annotated[CaseLoader, Depends(body_case(Action.MEETING_MANAGE))]
MinutesCase = Annotated[CaseLoader, Depends(body_case(Action.MINUTES_WRITE))]

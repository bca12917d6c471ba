"""Permission-carrying dependencies for the plan and meeting routes."""

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal
from app.cases.access import CaseAccess
from app.cases.dependencies import case_access

PlanReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_READ))]
PlanWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_WRITE))]
PlanAgreer = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_AGREE))]
PlanDocumenter = Annotated[CaseAccess, Depends(case_access(Action.CASE_PLAN_DOCUMENT))]
MeasureStatusChanger = Annotated[CaseAccess, Depends(case_access(Action.CASE_MEASURE_STATUS))]

MeetingReader = Annotated[Principal, Depends(require(Action.MEETING_READ))]
MeetingManager = Annotated[Principal, Depends(require(Action.MEETING_MANAGE))]
MinutesReader = Annotated[Principal, Depends(require(Action.MINUTES_READ))]
MinutesWriter = Annotated[Principal, Depends(require(Action.MINUTES_WRITE))]

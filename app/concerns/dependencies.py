"""Permission-carrying dependencies for the concern routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal
from app.cases.dependencies import CaseLoader, body_case

ConcernSubmitter = Annotated[Principal, Depends(require(Action.CONCERN_SUBMIT))]
ConcernReader = Annotated[Principal, Depends(require(Action.CONCERN_READ))]
ConcernScreener = Annotated[Principal, Depends(require(Action.CONCERN_SCREEN))]
#: The case a screening decision attaches the concern to (the body's ``case_id``).
ScreeningCase = Annotated[CaseLoader, Depends(body_case(Action.CONCERN_SCREEN))]

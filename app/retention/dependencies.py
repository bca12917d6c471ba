from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal

HoldPlacer = Annotated[Principal, Depends(require(Action.LEGAL_HOLD_PLACE))]
HoldReader = Annotated[Principal, Depends(require(Action.LEGAL_HOLD_READ))]
HoldLifter = Annotated[Principal, Depends(require(Action.LEGAL_HOLD_LIFT))]

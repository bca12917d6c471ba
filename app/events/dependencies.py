"""Permission-carrying dependencies for the event feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal

#: The feed's rows are filtered per caller by the visibility rules (app/events/service.py).
EventReader = Annotated[Principal, Depends(require(Action.EVENTS_READ))]

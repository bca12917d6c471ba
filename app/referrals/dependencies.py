"""Permission-carrying principals for the service directory (see auth/policy.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal

ServiceReader = Annotated[Principal, Depends(require(Action.SERVICE_READ))]
ServiceManager = Annotated[Principal, Depends(require(Action.SERVICE_MANAGE))]

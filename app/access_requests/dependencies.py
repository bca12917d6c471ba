"""Permission-carrying dependencies for the access request routes (auditors only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal

RequestRecorder = Annotated[Principal, Depends(require(Action.ACCESS_REQUEST_CREATE))]
RequestReader = Annotated[Principal, Depends(require(Action.ACCESS_REQUEST_READ))]
RequestDecider = Annotated[Principal, Depends(require(Action.ACCESS_REQUEST_DECIDE))]
RequestExporter = Annotated[Principal, Depends(require(Action.ACCESS_REQUEST_EXPORT))]

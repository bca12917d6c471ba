"""Permission-carrying dependencies for the access request routes (auditors only).

The ``controller`` relation (app/auth/policy.py) is enforced by :func:`controlled`:
it loads the request named in the path *through* the caller's organisation, so a
request another organisation handles is a 404, never a 403.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path

from app.access_requests.models import AccessRequest
from app.auth.policy import POLICY, Action, Relation, declare_relation, require
from app.auth.principal import Principal
from app.cases.access import not_found
from app.platform.db import SessionDep

RequestRecorder = Annotated[Principal, Depends(require(Action.ACCESS_REQUEST_CREATE))]
RequestLister = Annotated[Principal, Depends(require(Action.ACCESS_REQUEST_LIST))]


@dataclass(frozen=True)
class ControlledRequest:
    """A request the caller's organisation handles, and the caller."""

    request: AccessRequest
    principal: Principal
    action: Action


def controlled(action: Action) -> Callable[..., Awaitable[ControlledRequest]]:
    """Role check, then the path's request loaded through the caller's organisation."""
    guard = require(action)
    _roles, relation = POLICY[action]
    if relation != Relation.CONTROLLER:
        raise RuntimeError(f"{action} has relation {relation}, not controller")

    async def dependency(
        request_id: Annotated[uuid.UUID, Path(description="The access request id.")],
        session: SessionDep,
        principal: Annotated[Principal, Depends(guard)],
    ) -> ControlledRequest:
        request = await session.get(AccessRequest, request_id)
        if request is None or request.organisation_id != principal.organisation_id:
            raise not_found(action, principal, "access_request", request_id)
        return ControlledRequest(request, principal, action)

    dependency.__name__ = f"access_request_for_{str(action).replace('.', '_')}"
    declare_relation(dependency, action, "path:request_id", relation)
    return dependency


RequestRead = Annotated[ControlledRequest, Depends(controlled(Action.ACCESS_REQUEST_READ))]
RequestDecision = Annotated[ControlledRequest, Depends(controlled(Action.ACCESS_REQUEST_DECIDE))]
RequestExport = Annotated[ControlledRequest, Depends(controlled(Action.ACCESS_REQUEST_EXPORT))]

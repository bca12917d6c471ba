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

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_requests.models import AccessRequest
from app.auth.loaders import path_loader
from app.auth.markers import mark_loader, relation_of
from app.auth.policy import Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import not_found

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
    relation = relation_of(action, Relation.CONTROLLER)

    async def load(
        session: AsyncSession, principal: Principal, request_id: uuid.UUID
    ) -> ControlledRequest:
        request = await session.scalar(
            select(AccessRequest).where(
                AccessRequest.id == request_id,
                AccessRequest.organisation_id == principal.organisation_id,
            )
        )
        if request is None:
            raise not_found(action, principal, "access_request", request_id)
        return ControlledRequest(request, principal, action)

    dependency = path_loader(require(action), "request_id", load, "The access request id.")
    return mark_loader(dependency, "access_request", action, relation, "path:request_id")


RequestRead = Annotated[ControlledRequest, Depends(controlled(Action.ACCESS_REQUEST_READ))]
RequestDecision = Annotated[ControlledRequest, Depends(controlled(Action.ACCESS_REQUEST_DECIDE))]
RequestExport = Annotated[ControlledRequest, Depends(controlled(Action.ACCESS_REQUEST_EXPORT))]

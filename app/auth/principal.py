"""The authenticated caller, and the dependency that produces it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from app.auth.tokens import KeySet, TokenError, VerifiedClaims, verify
from app.config import Settings
from app.db import SessionDep
from app.problems import DeniedAccess, Unauthorized


class Role(StrEnum):
    """Roles of DOMAIN.md section 5, as carried in the token's ``roles`` claim."""

    POLICE = "police"
    SOCIAL_WORKER = "social_worker"
    HEALTH_WORKER = "health_worker"
    YOUTH_WORKER = "youth_worker"
    VICTIM_ADVOCATE = "victim_advocate"
    COORDINATOR = "coordinator"
    SERVICE_PROVIDER = "service_provider"
    AUDITOR = "auditor"
    ADMIN = "admin"
    INTEGRATION = "integration"


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    subject: str
    name: str
    organisation_id: uuid.UUID
    organisation_code: str
    roles: frozenset[Role]
    scopes: frozenset[str] = frozenset()
    team_ids: frozenset[uuid.UUID] = frozenset()
    issued_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


#: Resolves verified claims to a Principal (JIT-registers unknown users and
#: organisations). The directory domain registers it at start-up, because auth
#: sits below the directory and may not import it.
PrincipalResolver = Callable[[AsyncSession, VerifiedClaims], Awaitable[Principal]]


bearer_scheme = HTTPBearer(auto_error=False, description="A JWT from the identity provider.")


async def authenticate(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized(
            "A bearer token is required.",
            headers={"WWW-Authenticate": 'Bearer realm="casecoord"'},
        )
    token = credentials.credentials.strip()
    settings: Settings = request.app.state.settings
    keyset: KeySet = request.app.state.keyset
    try:
        # In a worker thread: a JWKS refresh may fetch over https, which must
        # not stall every other request on the event loop.
        verified = await run_in_threadpool(verify, token, keyset, settings)
    except TokenError as exc:
        raise Unauthorized(
            "The bearer token was rejected.",
            denied=DeniedAccess(action="auth.token", reason=str(exc)),
        ) from exc
    # Kept for the denial hook: if this request is refused and rolled back, the
    # just-in-time registration is redone in the denial's own transaction.
    request.state.verified_claims = verified
    resolver: PrincipalResolver = request.app.state.principal_resolver
    principal = await resolver(session, verified)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]

"""The authenticated caller, and the dependency that produces it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from app.auth.ratelimit import AuthGuard
from app.auth.tokens import KeySet, TokenError, VerifiedClaims, verify
from app.platform.config import Settings
from app.platform.db import SessionDep
from app.platform.extensions import registries_of
from app.platform.problems import Unauthorized


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
#: organisations). The directory domain installs it (app/directory/install.py),
#: because auth sits below the directory and may not import it.
PrincipalResolver = Callable[[AsyncSession, VerifiedClaims], Awaitable[Principal]]


class PrincipalResolution:
    """The app's registry of its one principal resolver (app/platform/extensions.py)."""

    def __init__(self) -> None:
        self.resolver: PrincipalResolver | None = None

    def install(self, resolver: PrincipalResolver) -> None:
        if self.resolver is not None:
            raise RuntimeError("a principal resolver is installed already")
        self.resolver = resolver

    def __call__(self, session: AsyncSession, verified: VerifiedClaims) -> Awaitable[Principal]:
        if self.resolver is None:
            raise RuntimeError("no principal resolver installed")
        return self.resolver(session, verified)


bearer_scheme = HTTPBearer(auto_error=False, description="A JWT from the identity provider.")


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def authenticate(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    guard: AuthGuard = request.app.state.auth_guard
    address = _client_address(request)
    if credentials is None or not credentials.credentials.strip():
        await _refuse_unauthenticated(
            guard,
            request.app.state.db,
            address,
            "no token",
            Unauthorized(
                "A bearer token is required.",
                headers={"WWW-Authenticate": 'Bearer realm="casecoord"'},
            ),
        )
    token = credentials.credentials.strip()
    settings: Settings = request.app.state.settings
    keyset: KeySet = request.app.state.keyset
    try:
        if keyset.answers_locally(token):
            # Pure CPU (an RSA verify, ~0.1 ms): inline is cheaper than the
            # thread-pool hop, which costs milliseconds of wall time under load.
            verified = verify(token, keyset, settings)
        else:
            # A JWKS refresh may fetch over https, which must not stall every
            # other request on the event loop: in a worker thread.
            verified = await run_in_threadpool(verify, token, keyset, settings)
    except TokenError as exc:
        await _refuse_unauthenticated(
            guard,
            request.app.state.db,
            address,
            str(exc),
            Unauthorized(exc.public),
            exc,
        )
    # The signature proves the subject: from here on its failures count against it.
    subject_key = f"{verified.issuer}|{verified.subject}"
    wait = await guard.subject_blocked(subject_key)
    if wait is not None:
        guard.note(address, "throttled subject", 429)
        raise guard.too_many(wait)
    # Kept for the denial hook: if this request is refused and rolled back, the
    # just-in-time registration is redone in the denial's own transaction.
    request.state.verified_claims = verified
    resolver = registries_of(request.app).of(PrincipalResolution)
    try:
        principal = await resolver(session, verified)
    except Unauthorized:
        # A known user refused by the directory (disabled, revoked, other
        # organisation): audited individually by the denial hook, and counted.
        await guard.failed(address, subject_key)
        raise
    request.state.principal = principal
    return principal


async def _refuse_unauthenticated(
    guard: AuthGuard,
    db: Any,
    address: str | None,
    reason: str,
    refusal: Unauthorized,
    cause: Exception | None = None,
) -> NoReturn:
    """401, or 429 past the address's limit; tallied, not audited one by one."""
    if guard.due():  # the closed window's tally, even without the lifespan task
        await guard.flush(db)
    wait = await guard.failed(address)
    if wait is not None:
        guard.note(address, reason, 429)
        raise guard.too_many(wait) from cause
    guard.note(address, reason, 401)
    raise refusal from cause


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]

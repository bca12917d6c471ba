"""The authenticated caller, and the dependency that produces it."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select
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


class Companion(ABC):
    """A read that rides along with the caller's directory lookup: one round trip
    for both (issue 13, bench/README.md).

    A route whose path names an object that the caller's sight decides (a case,
    by ``case_id``) reads that object's access row in the statement that looks
    up the caller. Nothing is decided here: the directory hands the row to
    :meth:`keep` once the caller is resolved and allowed, and the object's own
    loader uses it only for the same caller and object, in the same transaction,
    after the route's role check, exactly as if it had run its own query.
    """

    #: The path parameter naming the object.
    name: str

    @abstractmethod
    def params(self, value: uuid.UUID) -> dict[str, Any]:
        """The bound values of :meth:`extend`'s statement for this object."""

    @abstractmethod
    def extend(self, statement: Select[Any], user: Any, organisation: Any) -> Select[Any]:
        """``statement`` with the object's access row outer-joined, over the
        looked-up user's id and organisation columns; its columns come last."""

    @abstractmethod
    def keep(
        self, session: AsyncSession, principal: Principal, value: uuid.UUID, row: Sequence[Any]
    ) -> None:
        """Keep the columns :meth:`extend` added for the object's loader."""


@dataclass(frozen=True)
class Companions:
    """The app's companions, by path parameter (app/platform/extensions.py)."""

    by_name: dict[str, Companion] = field(default_factory=dict)

    def register(self, companion: Companion) -> None:
        if companion.name in self.by_name:
            raise RuntimeError(f"a companion for {companion.name} is registered already")
        self.by_name[companion.name] = companion

    def of(self, path_params: dict[str, Any]) -> tuple[Companion, uuid.UUID] | None:
        """The companion of the first object the path names, with its id (none for
        an id that is not a UUID: the route answers that with its own 422)."""
        for name, companion in self.by_name.items():
            raw = path_params.get(name)
            if raw is not None:
                try:
                    return companion, uuid.UUID(str(raw))
                except ValueError:
                    return None
        return None


#: Resolves verified claims to a Principal (JIT-registers unknown users and
#: organisations), reading the companion's row in the same query when given.
#: The directory domain installs it (app/directory/install.py), because auth
#: sits below the directory and may not import it.
PrincipalResolver = Callable[
    [AsyncSession, VerifiedClaims, "tuple[Companion, uuid.UUID] | None"], Awaitable[Principal]
]


class PrincipalResolution:
    """The app's registry of its one principal resolver (app/platform/extensions.py)."""

    def __init__(self) -> None:
        self.resolver: PrincipalResolver | None = None

    def install(self, resolver: PrincipalResolver) -> None:
        if self.resolver is not None:
            raise RuntimeError("a principal resolver is installed already")
        self.resolver = resolver

    def __call__(
        self,
        session: AsyncSession,
        verified: VerifiedClaims,
        companion: tuple[Companion, uuid.UUID] | None = None,
    ) -> Awaitable[Principal]:
        if self.resolver is None:
            raise RuntimeError("no principal resolver installed")
        return self.resolver(session, verified, companion)


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
    registries = registries_of(request.app)
    companion = registries.of(Companions).of(request.path_params)
    try:
        principal = await registries.of(PrincipalResolution)(session, verified, companion)
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

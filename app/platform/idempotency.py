"""Idempotency-Key for POSTs that create things, scoped to the caller.

- The first successful response is stored **in the same transaction** as the
  thing it created, so either both exist or neither does (a failed request
  stores nothing and may be retried with the same key).
- Nothing personal is stored: only the status, the kept headers (ETag,
  Location), what the request created (``target_type``, ``target_id``) and a
  sha256 fingerprint of the request. A replay with the same key and the same
  request re-reads the target through the route's normal readable path and
  renders it as a read would now (``Idempotent-Replayed: true``): current data,
  and a 404 (audited like any not-visible read) once the caller lost access.
  See :func:`app.cases.dependencies.create_once`, the one way routes use this.
- The same key with another request (body, method or path) is a 422.
- A replay while the first request is still running is a 409. On PostgreSQL
  the first request holds a transaction-scoped advisory lock on the key, so the
  second sees it at once. On SQLite every write transaction already takes the
  database lock at BEGIN (app/platform/db.py), so a concurrent replay waits for the first
  to commit and then gets the replay; it can never run twice.

Rows expire after :data:`TTL` and the caller's expired rows are purged when
they store a new one. This module is core: it knows users only by id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import JSON, Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.clock import clock
from app.platform.db import Base, UUIDPk
from app.platform.etag import set_created, tagged
from app.platform.extensions import registries_of
from app.platform.problems import Conflict, field_error

TTL = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("etag", "location")


class Actor(Protocol):
    """Who creates: the authenticated principal (app/auth), as far as this module needs."""

    @property
    def user_id(self) -> uuid.UUID: ...


#: Told of every replay, in the request's transaction: (session, actor, target type, id).
ReplayHook = Callable[[AsyncSession, Any, str, str], None]


class ReplayHooks:
    """The app's hooks for a replayed create (the audit domain installs its record)."""

    def __init__(self) -> None:
        self.hooks: list[ReplayHook] = []

    def register(self, hook: ReplayHook) -> None:
        self.hooks.append(hook)


class IdempotencyRecord(UUIDPk, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    user_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    #: Only ETag and Location (:data:`KEPT_HEADERS`); never a body.
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: What the first request created: a replay re-reads it (and is audited as a read of it).
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class Replay:
    """What a replay needs: no body, only where to re-read it from."""

    status: int
    headers: dict[str, str]
    target_type: str
    target_id: str


def _lock_id(user_id: uuid.UUID, key: str) -> int:
    digest = hashlib.sha256(f"idempotency:{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class IdempotencyGuard:
    """Per-request handle: ``begin`` before doing the work, ``complete`` after."""

    def __init__(
        self, key: str | None, method: str, path: str, on_replay: list[ReplayHook] | None = None
    ) -> None:
        self.key = key
        self.method = method
        self.path = path
        self.on_replay = on_replay or []
        self._user_id: uuid.UUID | None = None
        self._fingerprint = ""

    def _fingerprint_of(self, payload: BaseModel | dict[str, Any] | None) -> str:
        body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        canonical = json.dumps(
            {"method": self.method, "path": self.path, "body": body},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    async def begin(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        payload: BaseModel | dict[str, Any] | None,
    ) -> Replay | None:
        """Return what the first request created for a replay, or None to go ahead."""
        if self.key is None:
            return None
        self._user_id = user_id
        self._fingerprint = self._fingerprint_of(payload)
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            got = await session.scalar(
                select(func.pg_try_advisory_xact_lock(_lock_id(user_id, self.key)))
            )
            if not got:
                raise Conflict(
                    "A request with this Idempotency-Key is still in progress; retry shortly.",
                    headers={"Retry-After": "1"},
                )
        record = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == self.key
            )
        )
        if record is None:
            return None
        if record.expires_at <= clock.now():
            await session.delete(record)
            await session.flush()
            return None
        if record.fingerprint != self._fingerprint:
            raise field_error(
                "Idempotency-Key",
                "This Idempotency-Key was used for a different request.",
                "reused",
                location="header",
            )
        return Replay(
            record.response_status,
            dict(record.response_headers),
            record.target_type,
            record.target_id,
        )

    async def complete(
        self,
        session: AsyncSession,
        status: int,
        headers: dict[str, str] | Any,
        *,
        target_type: str,
        target_id: uuid.UUID | str,
    ) -> None:
        """Record what was created, in the request's transaction (no-op without a key)."""
        if self.key is None or self._user_id is None:
            return
        now = clock.now()
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == self._user_id, IdempotencyRecord.expires_at <= now
            )
        )
        kept = {k: v for k, v in dict(headers).items() if k.lower() in KEPT_HEADERS}
        session.add(
            IdempotencyRecord(
                user_id=self._user_id,
                key=self.key,
                fingerprint=self._fingerprint,
                response_status=status,
                response_headers=kept,
                target_type=target_type,
                target_id=str(target_id),
                created_at=now,
                expires_at=now + TTL,
            )
        )
        await session.flush()


async def _guard(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description=(
                "Retry-safe create: the same key returns what the first request created,"
                " as it is now."
            ),
        ),
    ] = None,
) -> IdempotencyGuard:
    hooks = registries_of(request.app).of(ReplayHooks).hooks
    return IdempotencyGuard(idempotency_key, request.method, request.url.path, hooks)


Idempotency = Annotated[IdempotencyGuard, Depends(_guard)]
M = TypeVar("M", bound=BaseModel)


async def create_once(
    idempotency: IdempotencyGuard,
    session: AsyncSession,
    actor: Actor,
    body: BaseModel | None,
    response: Response,
    target_type: str,
    create: Callable[[], Awaitable[tuple[M, uuid.UUID | str]]],
    reread: Callable[[str], Awaitable[M]],
) -> M:
    """The one way a route creates under an Idempotency-Key.

    ``create`` does the work and returns the response body and the id of what it
    made; ``reread`` renders that target as a read of it would now, loading it
    through the domain's readable path (so it raises the audited 404 once the
    caller may no longer see it). The store keeps no body: a replay calls
    ``reread``, returns current data with the first status and ``Location``,
    the current ``ETag`` and ``Idempotent-Replayed: true``, and is audited as a
    read of the target (the audit domain's replay hook). Without the header
    ``create`` simply runs.
    """
    replay = await idempotency.begin(session, actor.user_id, body)
    if replay is None:
        out, target_id = await create()
        await idempotency.complete(
            session, 201, response.headers, target_type=target_type, target_id=target_id
        )
        return out
    if replay.target_type != target_type:  # a row from before migration 0011
        raise Conflict("This Idempotency-Key cannot be replayed; use a new key.")
    out = await reread(replay.target_id)
    for hook in idempotency.on_replay:
        hook(session, actor, target_type, replay.target_id)
    response.status_code = replay.status
    for name, value in replay.headers.items():
        if name.lower() not in response.headers:  # the re-read's current ETag wins
            response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return out


class _Versioned(Protocol):
    id: Any
    version: Any


V = TypeVar("V", bound=_Versioned)


async def create_versioned(
    idempotency: IdempotencyGuard,
    session: AsyncSession,
    actor: Actor,
    body: BaseModel,
    response: Response,
    *,
    target_type: str,
    location: str,
    make: Callable[[], Awaitable[V]],
    load: Callable[[uuid.UUID], Awaitable[V]],
    render: Callable[[V], M],
) -> M:
    """:func:`create_once` for a versioned object that is read back as it is.

    ``make`` creates it, ``load`` loads it by id for a replay and ``render``
    turns it into the response; ``Location`` (``location`` with ``{id}``) and
    ``ETag`` are set here, so the routes of the directory and the service
    catalogue do not spell them out.
    """

    async def create() -> tuple[M, uuid.UUID | str]:
        made = await make()
        set_created(response, made.version, location.format(id=made.id))
        return render(made), made.id

    async def reread(target_id: str) -> M:
        loaded = await load(uuid.UUID(target_id))
        return tagged(response, loaded.version, render(loaded))

    return await create_once(
        idempotency, session, actor, body, response, target_type, create, reread
    )

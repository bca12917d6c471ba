"""Writing and reading the access log.

:func:`record` adds the row to the caller's session, so it commits or rolls
back together with the action it describes. Denials are written by
:func:`record_denial` in a small transaction of their own, after the request's
transaction has been rolled back, so a refused attempt is never lost with it.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import pending
from app.audit.models import AuditEvent
from app.audit.schemas import AuditOutcome
from app.auth.principal import Principal, PrincipalResolution
from app.auth.tokens import VerifiedClaims
from app.platform import context as requestctx
from app.platform.db import utcnow
from app.platform.extensions import registries_of
from app.platform.pagination import apply_keyset, page_of, where_given
from app.platform.problems import DeniedAccess

log = logging.getLogger("casecoord.audit")


def _actor_fields(actor: Principal | None) -> dict[str, Any]:
    if actor is None:
        return {"actor_id": None, "actor_name": None, "actor_organisation": None, "actor_roles": []}
    return {
        "actor_id": actor.user_id,
        "actor_name": actor.name[:200],
        "actor_organisation": actor.organisation_code[:64],
        "actor_roles": sorted(str(r) for r in actor.roles),
    }


def _row(
    actor: Principal | None,
    action: str,
    target_type: str | None,
    target_id: uuid.UUID | str | None,
    outcome: AuditOutcome,
    purpose: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """Every column of a new row but the chain's (NULL until the sealer runs)."""
    return {
        "id": uuid.uuid4(),
        "occurred_at": utcnow(),
        **_actor_fields(actor),
        "action": action[:100],
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "outcome": outcome.value,
        "purpose": purpose[:200] if purpose else None,
        "reason": reason[:200] if reason else None,
        "emergency_grant_id": requestctx.emergency_grant_id.get(),
        "request_id": requestctx.request_id.get(),
        "client_ip": requestctx.client_ip.get(),
    }


def build_event(
    actor: Principal | None,
    action: str,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    *,
    outcome: AuditOutcome = AuditOutcome.ALLOWED,
    purpose: str | None = None,
    reason: str | None = None,
) -> AuditEvent:
    return AuditEvent(**_row(actor, action, target_type, target_id, outcome, purpose, reason))


def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    *,
    purpose: str | None = None,
) -> None:
    """Log an allowed access in the caller's transaction: inserted by one prebuilt
    statement just before it commits, rolled back with it (app/audit/pending.py)."""
    pending.add(
        session, _row(actor, action, target_type, target_id, AuditOutcome.ALLOWED, purpose, None)
    )


def record_replay(
    session: AsyncSession, actor: Principal, target_type: str, target_id: str
) -> None:
    """A replayed create (app/platform/idempotency.py) is a read of what it made."""
    record(session, actor, "idempotency.replayed", target_type, target_id)


async def record_denial(request: Request, denied: DeniedAccess, status: int) -> None:
    """Log a refused attempt in its own transaction (the request's was rolled back)."""
    actor = denied.actor if isinstance(denied.actor, Principal) else None
    try:
        # sessionmaker.begin(): a transaction of its own, committed on exit.
        async with request.app.state.db.sessionmaker.begin() as session:
            if actor is not None:
                actor = await _registered_actor(request, session, actor)
            session.add(
                build_event(
                    actor,
                    denied.action,
                    denied.target_type,
                    denied.target_id,
                    outcome=AuditOutcome.DENIED,
                    reason=f"{status}:{denied.reason}" if denied.reason else str(status),
                )
            )
    except Exception:  # the refusal itself must still reach the caller
        log.exception("could not write denial audit row")


async def record_refusal_tally(
    db: Any, counts: dict[str, Counter[str]], window_seconds: int
) -> None:
    """One ``auth.refused`` row per client address for a window of unauthenticated refusals.

    Called by app/auth/ratelimit.py instead of a row per refusal, so a flood of
    bad tokens adds one row per address per window, with the count and reasons.
    """
    async with db.sessionmaker.begin() as session:
        for address, tally in counts.items():
            total = sum(tally.values())
            reasons = ", ".join(f"{reason}={n}" for reason, n in tally.most_common(4))
            event = build_event(
                None,
                "auth.refused",
                outcome=AuditOutcome.DENIED,
                reason=f"{total} refused in {window_seconds}s: {reasons}",
            )
            event.client_ip = address[:64]
            event.request_id = None
            session.add(event)


async def _registered_actor(request: Request, session: AsyncSession, actor: Principal) -> Principal:
    """The actor as a user row that survives the refused request's rollback.

    A newcomer's first request registers them just in time, in the request's
    transaction; when that request is refused, the registration is rolled back
    with it, and the denial would name a user id that exists nowhere. Resolving
    the same verified claims again here keeps the registration (audited, as
    always) and gives the denial the id the user will keep.
    """
    verified: VerifiedClaims | None = getattr(request.state, "verified_claims", None)
    resolver = registries_of(request.app).of(PrincipalResolution).resolver
    if verified is None or resolver is None:
        return actor
    try:
        async with session.begin_nested():
            return await resolver(session, verified, None)
    except Exception:  # the denial row matters more than the registration
        log.warning("could not re-register a refused actor", exc_info=True)
        return actor


async def list_events(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    target_type: str | None,
    target_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[AuditEvent], str | None]:
    await pending.write_pending(session)  # this transaction's own rows too, as autoflush did
    stmt: Select[Any] = where_given(
        select(AuditEvent),
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.target_type, target_type),
        (AuditEvent.target_id, target_id),
    )
    if action:
        # "case.read" matches exactly; "case." matches the whole family.
        if action.endswith("."):
            stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    stmt = apply_keyset(stmt, AuditEvent.occurred_at, AuditEvent.id, cursor, limit)
    rows = (await session.scalars(stmt)).all()
    return page_of(rows, limit, "occurred_at")

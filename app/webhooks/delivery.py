"""The webhook sender job; the fan-out job that creates its deliveries is fanout.py.

**Sender** (a queue job, every worker): claims due deliveries with a lease
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers), commits
the claim, then sends each one outside any transaction and records the result
only while it still holds the lease. A worker killed mid-delivery leaves a claim
that expires after ``webhook_lease_seconds``; another worker then sends it again
(at-least-once; the receiver dedupes on ``webhook-id``). Before each attempt the
organisation's sight of the object and the URL policy are checked again.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.events.models import OutboxEvent
from app.events.service import names_case_to_organisation, visible_to_organisation
from app.jobs.registry import JobContext
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.crypto import KeyRing, load_keyring
from app.webhooks import service, urls
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

#: Standard Webhooks: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
#: Statuses whose Retry-After is honoured (capped by webhook_retry_after_cap_seconds).
RETRY_AFTER = frozenset({429, 502, 504})
#: This process's name in claims and attempts.
WORKER = f"{socket.gethostname()}:{os.getpid()}"
_random = secrets.SystemRandom()
_keyrings: dict[int, KeyRing] = {}


def _keyring(settings: Settings) -> KeyRing:
    ring = _keyrings.get(id(settings))
    if ring is None:
        ring = _keyrings[id(settings)] = load_keyring(settings)
    return ring


# --- sending --------------------------------------------------------------------


@dataclass
class Prepared:
    """What one attempt needs, read before sending (no session is held while sending)."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    body: bytes
    secrets: list[str]


@dataclass
class Outcome:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    retry_after: float | None = None


async def claim(session: AsyncSession, worker: str, settings: Settings) -> list[uuid.UUID]:
    """Take up to ``webhook_batch`` due deliveries under a lease; commit right after."""
    now = clock.now()
    D = WebhookDelivery
    free = (
        D.status == DeliveryStatus.PENDING,
        D.next_attempt_at <= now,
        or_(D.lease_until.is_(None), D.lease_until < now),
    )
    # Lock the rows first (PostgreSQL: skipping those another worker holds), then
    # take them; one statement with the locking SELECT as an IN subquery is not
    # safe (the planner may run it again per row, and the LIMIT stops holding).
    due = (
        select(D.id)
        .where(*free)
        .order_by(D.next_attempt_at)
        .limit(settings.webhook_batch)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    lease = now + timedelta(seconds=settings.webhook_lease_seconds)
    stmt = (
        update(D)
        .where(D.id.in_(ids), *free)
        .values(claimed_by=worker, lease_until=lease)
        .returning(D.id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(stmt)).all())


def payload(event: OutboxEvent, name_case: bool) -> bytes:
    """The thin payload: a type, a time and ids. Never personal data."""
    data: dict[str, Any] = {
        "event_id": str(event.id),
        "target_type": event.target_type,
        "target_id": str(event.target_id),
    }
    if name_case and event.case_id is not None:
        data["case_id"] = str(event.case_id)
    body = {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def _prepare(
    session: AsyncSession, worker: str, keyring: KeyRing, delivery_id: uuid.UUID
) -> Prepared | None:
    """Read one claimed delivery; drop it (and return None) if it may not go out."""
    delivery = await session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.claimed_by != worker:
        return None
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        _drop(delivery, "endpoint disabled")
        return None
    org = endpoint.organisation_id
    row = (
        await session.execute(
            select(OutboxEvent, names_case_to_organisation(org)).where(
                OutboxEvent.id == delivery.event_id, visible_to_organisation(org)
            )
        )
    ).first()
    if row is None:
        _drop(delivery, "the organisation no longer sees the object")
        return None
    event, name_case = row
    return Prepared(
        delivery.id,
        endpoint.id,
        endpoint.url,
        payload(event, bool(name_case)),
        service.signing_secrets(keyring, endpoint),
    )


def _drop(delivery: WebhookDelivery, reason: str) -> None:
    delivery.status = DeliveryStatus.DROPPED
    delivery.dropped_reason = reason
    delivery.next_attempt_at = None
    delivery.claimed_by = None
    delivery.lease_until = None


def sign(prepared: Prepared, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,`` signature per valid secret."""
    msg_id = service.message_id(prepared.delivery_id)
    signatures = [Webhook(s).sign(msg_id, at, prepared.body) for s in prepared.secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "casecoord-webhooks/1",
    }


def _retry_after(value: str | None, cap: int) -> float | None:
    if not value:
        return None
    value = value.strip()
    seconds: float
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - clock.now()).total_seconds()
    return max(0.0, min(seconds, float(cap)))


async def send(client: httpx.AsyncClient, prepared: Prepared, settings: Settings) -> Outcome:
    """One HTTP attempt; the URL is checked (and pinned) again right before it."""
    at = clock.now()
    started = time.monotonic()

    def outcome(code: int | None, error: str | None, retry: float | None = None) -> Outcome:
        ms = int((time.monotonic() - started) * 1000)
        return Outcome(prepared.delivery_id, prepared.endpoint_id, at, code, ms, error, retry)

    try:
        target = await urls.check(prepared.url, settings)
    except urls.RefusedURL:
        return outcome(None, "refused_address")
    headers = sign(prepared, at) | {"host": target.host}
    extensions = {"sni_hostname": target.sni} if target.sni else {}
    try:
        response = await client.post(
            target.url, content=prepared.body, headers=headers, extensions=extensions
        )
    except httpx.TimeoutException:
        return outcome(None, "timeout")
    except httpx.ConnectError:
        return outcome(None, "connect_error")
    except httpx.HTTPError:
        return outcome(None, "http_error")
    code = response.status_code
    if 200 <= code < 300:
        return outcome(code, None)
    retry = None
    if code in RETRY_AFTER:
        retry = _retry_after(
            response.headers.get("retry-after"), settings.webhook_retry_after_cap_seconds
        )
    return outcome(code, f"http_{code}", retry)


def next_delay(attempts: int, retry_after: float | None) -> float:
    """Seconds until the next attempt after ``attempts`` failed ones, with jitter."""
    if retry_after is not None:
        return retry_after
    base = SCHEDULE[attempts]
    return base * _random.uniform(0.9, 1.1)


async def _record(session: AsyncSession, worker: str, outcome: Outcome) -> None:
    session.add(
        WebhookAttempt(
            id=uuid.uuid4(),
            delivery_id=outcome.delivery_id,
            attempted_at=outcome.attempted_at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            worker=worker,
        )
    )
    delivery = await session.get(WebhookDelivery, outcome.delivery_id, populate_existing=True)
    if delivery is None or delivery.claimed_by != worker:
        return  # the lease was lost meanwhile: whoever holds it now decides
    now = clock.now()
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.claimed_by = None
    delivery.lease_until = None
    if outcome.error is None:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif outcome.status_code == 410:
        endpoint = await session.get(WebhookEndpoint, outcome.endpoint_id)
        if endpoint is not None and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_reason = "the endpoint answered 410 Gone"
        _drop(delivery, "the endpoint answered 410 Gone")
        await service.drop_pending(session, outcome.endpoint_id, "endpoint disabled")
    elif delivery.attempts >= len(SCHEDULE):
        delivery.status = DeliveryStatus.DEAD
        delivery.next_attempt_at = None
    else:
        delay = next_delay(delivery.attempts, outcome.retry_after)
        delivery.next_attempt_at = now + timedelta(seconds=delay)


async def deliver_due(ctx: JobContext, worker: str = WORKER) -> int:
    """Claim due deliveries, send them concurrently, record each result."""
    settings = ctx.settings
    keyring = _keyring(settings)
    async with ctx.db.sessionmaker() as session:
        claimed = await claim(session, worker, settings)
        await session.commit()
    if not claimed:
        return 0
    async with ctx.db.sessionmaker() as session:
        prepared = [await _prepare(session, worker, keyring, d) for d in claimed]
        await session.commit()
    ready = [p for p in prepared if p is not None]
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        outcomes = await asyncio.gather(*(send(client, p, settings) for p in ready))
    async with ctx.db.sessionmaker() as session:
        for outcome in outcomes:
            await _record(session, worker, outcome)
        await session.commit()
    return len(claimed)

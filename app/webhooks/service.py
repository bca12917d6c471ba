"""Webhook subscriptions: create, read, change, rotate, delete; the delivery log.

Every row is the caller's organisation's: another organisation's endpoint or
delivery is not found (404). The secret is generated here (Standard Webhooks:
``whsec_`` + base64 of 32 random bytes), sealed at rest and shown once.
Management is audited; the delivery log holds no personal data and is audited
as a read of the organisation's log.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.crypto import FieldContext, KeyRing
from app.platform.etag import check_version
from app.platform.pagination import fetch_page, where_given
from app.platform.problems import field_error
from app.webhooks import urls
from app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import AttemptRead, DeliveryRead, WebhookCreate, WebhookUpdate

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id(delivery_id: uuid.UUID) -> str:
    """The ``webhook-id`` of a delivery: the same on every attempt and redelivery."""
    return f"msg_{delivery_id.hex}"


def _seal(keyring: KeyRing, endpoint: WebhookEndpoint, attr: str, secret: str) -> None:
    setattr(endpoint, attr, keyring.seal(secret, FieldContext.of(endpoint, attr)))


def signing_secrets(keyring: KeyRing, endpoint: WebhookEndpoint) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during the overlap."""
    found = [keyring.open(endpoint.secret_enc, FieldContext.of(endpoint, "secret_enc"))]
    previous = endpoint.previous_secret_enc
    if previous is not None and endpoint.previous_until and endpoint.previous_until > clock.now():
        found.append(keyring.open(previous, FieldContext.of(endpoint, "previous_secret_enc")))
    return found


async def _checked_url(url: str, settings: Settings) -> str:
    try:
        await urls.check(url, settings)
    except urls.RefusedURL as exc:
        raise field_error("url", str(exc), "refused") from exc
    return url


def _types(values: list[Any]) -> list[str]:
    return sorted({str(v.value if hasattr(v, "value") else v) for v in values})


async def create(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    settings: Settings,
    data: WebhookCreate,
) -> tuple[WebhookEndpoint, str]:
    url = await _checked_url(data.url, settings)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        organisation_id=principal.organisation_id,
        url=url,
        event_types=_types(data.event_types),
        description=data.description,
        enabled=True,
        created_by=principal.user_id,
    )
    secret = new_secret()
    _seal(keyring, endpoint, "secret_enc", secret)
    session.add(endpoint)
    await session.flush()
    audit.record(session, principal, "webhook.created", "webhook", endpoint.id)
    return endpoint, secret


def _owned(principal: Principal) -> Select[Any]:
    return select(WebhookEndpoint).where(
        WebhookEndpoint.organisation_id == principal.organisation_id
    )


async def find(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> WebhookEndpoint | None:
    """The caller's organisation's endpoint, or None (the loader turns it into a 404)."""
    stmt = _owned(principal).where(WebhookEndpoint.id == webhook_id)
    found: WebhookEndpoint | None = await session.scalar(stmt)
    return found


async def list_endpoints(
    session: AsyncSession,
    principal: Principal,
    enabled: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookEndpoint], str | None]:
    stmt = where_given(_owned(principal), (WebhookEndpoint.enabled, enabled))
    return await fetch_page(
        session, stmt, WebhookEndpoint.created_at, WebhookEndpoint.id, cursor, limit
    )


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    endpoint: WebhookEndpoint,
    data: WebhookUpdate,
    expected: int,
) -> WebhookEndpoint:
    check_version(expected, endpoint.version)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        endpoint.url = await _checked_url(changes["url"], settings)
    if "event_types" in changes:
        endpoint.event_types = _types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = changes["enabled"]
        endpoint.disabled_reason = None if endpoint.enabled else "disabled by the organisation"
        if not endpoint.enabled:
            await drop_pending(session, endpoint.id, "endpoint disabled")
    endpoint.updated_at = clock.now()
    await session.flush()
    audit.record(session, principal, "webhook.updated", "webhook", endpoint.id)
    return endpoint


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    settings: Settings,
    endpoint: WebhookEndpoint,
    expected: int,
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the old one keeps signing (a second signature) for the overlap."""
    check_version(expected, endpoint.version)
    current = keyring.open(endpoint.secret_enc, FieldContext.of(endpoint, "secret_enc"))
    overlap = settings.webhook_secret_overlap_seconds
    if overlap > 0:
        _seal(keyring, endpoint, "previous_secret_enc", current)
        endpoint.previous_until = clock.now() + timedelta(seconds=overlap)
    else:
        endpoint.previous_secret_enc = None
        endpoint.previous_until = None
    secret = new_secret()
    _seal(keyring, endpoint, "secret_enc", secret)
    endpoint.updated_at = clock.now()
    await session.flush()
    audit.record(session, principal, "webhook.secret_rotated", "webhook", endpoint.id)
    return endpoint, secret


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint: WebhookEndpoint, expected: int
) -> None:
    check_version(expected, endpoint.version)
    await session.delete(endpoint)
    await session.flush()
    audit.record(session, principal, "webhook.deleted", "webhook", endpoint.id)


async def drop_pending(session: AsyncSession, endpoint_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.DROPPED, dropped_reason=reason, next_attempt_at=None)
    )


# --- the delivery log -------------------------------------------------------------


async def find_delivery(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    found: WebhookDelivery | None = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.organisation_id == principal.organisation_id,
        )
    )
    return found


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    event_type: str | None,
    webhook_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[DeliveryRead], str | None]:
    stmt = where_given(
        select(WebhookDelivery).where(WebhookDelivery.organisation_id == principal.organisation_id),
        (WebhookDelivery.status, status),
        (WebhookDelivery.event_type, event_type),
        (WebhookDelivery.endpoint_id, webhook_id),
    )
    rows, nxt = await fetch_page(
        session, stmt, WebhookDelivery.created_at, WebhookDelivery.id, cursor, limit
    )
    audit.record(session, principal, "webhook.deliveries.listed", "webhook_delivery", None)
    return await render_deliveries(session, rows), nxt


async def render_deliveries(
    session: AsyncSession, rows: list[WebhookDelivery]
) -> list[DeliveryRead]:
    ids = [d.id for d in rows]
    attempts: dict[uuid.UUID, list[AttemptRead]] = {i: [] for i in ids}
    if ids:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        for attempt in (await session.scalars(stmt)).all():
            attempts[attempt.delivery_id].append(AttemptRead.model_validate(attempt))
    out = []
    for d in rows:
        item = DeliveryRead.model_validate(
            {
                **{c: getattr(d, c) for c in DeliveryRead.model_fields if hasattr(d, c)},
                "message_id": message_id(d.id),
                "attempt_log": attempts[d.id],
            }
        )
        out.append(item)
    return out


async def redeliver(
    session: AsyncSession, principal: Principal, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send again, now, with the same ``webhook-id``; a new round of the schedule."""
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = clock.now()
    delivery.claimed_by = None
    delivery.lease_until = None
    delivery.dropped_reason = None
    await session.flush()
    audit.record(
        session, principal, "webhook.delivery.redelivered", "webhook_delivery", delivery.id
    )
    return delivery

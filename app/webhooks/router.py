"""Webhook subscriptions (``/api/v1/webhooks``) and the delivery log."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from app.events.outbox import EventType
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, rendered
from app.platform.problems import NotFound
from app.platform.routing import api_router
from app.webhooks import service
from app.webhooks.dependencies import (
    AppSettings,
    DeliveryLister,
    ManagedWebhook,
    RedeliveredDelivery,
    WebhookCreator,
    WebhookLister,
)
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import (
    DeliveryRead,
    DeliveryState,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = api_router(prefix="/api/v1", tags=["webhooks"])


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate(
        {**WebhookRead.model_validate(endpoint).model_dump(), "secret": secret}
    )


@router.get("/webhooks", response_model=Page[WebhookRead])
async def list_webhooks(
    session: SessionDep,
    principal: WebhookLister,
    enabled: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[WebhookRead]:
    """Your organisation's webhook endpoints, newest first."""
    found = await service.list_endpoints(session, principal, enabled, cursor, limit)
    return rendered(found, WebhookRead.model_validate)


@router.post("/webhooks", response_model=WebhookWithSecret, status_code=201)
async def create_webhook(
    body: WebhookCreate,
    session: SessionDep,
    principal: WebhookCreator,
    keyring: KeyRingDep,
    settings: AppSettings,
    idempotency: Idempotency,
    response: Response,
) -> WebhookWithSecret:
    """Subscribe an https endpoint to event types. The response carries the signing
    secret (`whsec_...`): it is shown only here (and to a replay of this request)."""

    async def create() -> tuple[WebhookWithSecret, uuid.UUID]:
        endpoint, secret = await service.create(session, principal, keyring, settings, body)
        set_created(response, endpoint.version, f"/api/v1/webhooks/{endpoint.id}")
        return _with_secret(endpoint, secret), endpoint.id

    async def reread(target_id: str) -> WebhookWithSecret:
        endpoint = await service.find(session, principal, uuid.UUID(target_id))
        if endpoint is None:
            raise NotFound("No such webhook.")
        return tagged(
            response,
            endpoint.version,
            _with_secret(endpoint, service.signing_secrets(keyring, endpoint)[0]),
        )

    return await create_once(
        idempotency, session, principal, body, response, "webhook", create, reread
    )


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead)
async def get_webhook(owned: ManagedWebhook, response: Response) -> WebhookRead:
    """One webhook endpoint (never its secret)."""
    return tagged(response, owned.endpoint.version, WebhookRead.model_validate(owned.endpoint))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookRead)
async def update_webhook(
    body: WebhookUpdate,
    owned: ManagedWebhook,
    session: SessionDep,
    settings: AppSettings,
    expected: IfMatch,
    response: Response,
) -> WebhookRead:
    """Change the URL, the event types or the description, or enable or disable the
    endpoint (disabling drops its pending deliveries). Needs If-Match."""
    endpoint = await service.update_endpoint(
        session, owned.principal, settings, owned.endpoint, body, expected
    )
    return tagged(response, endpoint.version, WebhookRead.model_validate(endpoint))


@router.delete(
    "/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_webhook(owned: ManagedWebhook, session: SessionDep, expected: IfMatch) -> Response:
    """Unsubscribe: the endpoint and its delivery log go. Needs If-Match."""
    await service.delete_endpoint(session, owned.principal, owned.endpoint, expected)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/secret", response_model=WebhookWithSecret)
async def rotate_webhook_secret(
    owned: ManagedWebhook,
    session: SessionDep,
    keyring: KeyRingDep,
    settings: AppSettings,
    expected: IfMatch,
    response: Response,
) -> WebhookWithSecret:
    """Rotate the signing secret. The new one is shown only here; the old one keeps
    signing too (a second `v1,` signature) until `previous_until`. Needs If-Match."""
    endpoint, secret = await service.rotate_secret(
        session, owned.principal, keyring, settings, owned.endpoint, expected
    )
    return tagged(response, endpoint.version, _with_secret(endpoint, secret))


@router.get("/webhook-deliveries", response_model=Page[DeliveryRead])
async def list_webhook_deliveries(
    session: SessionDep,
    principal: DeliveryLister,
    status: DeliveryState | None = None,
    event_type: EventType | None = None,
    webhook_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[DeliveryRead]:
    """Your organisation's deliveries, newest first, with every attempt (time, HTTP
    status, duration, error class; never a response body)."""
    items, nxt = await service.list_deliveries(
        session,
        principal,
        status.value if status else None,
        event_type.value if event_type else None,
        webhook_id,
        cursor,
        limit,
    )
    return Page[DeliveryRead](items=items, next_cursor=nxt)


@router.post(
    "/webhook-deliveries/{delivery_id}/redelivery", response_model=DeliveryRead, status_code=202
)
async def redeliver_webhook(owned: RedeliveredDelivery, session: SessionDep) -> DeliveryRead:
    """Send a delivery again (a dead letter too), with the same `webhook-id`, on a new
    round of the retry schedule."""
    delivery = await service.redeliver(session, owned.principal, owned.delivery)
    (item,) = await service.render_deliveries(session, [delivery])
    return item

"""Permission-carrying dependencies for the webhook routes (see auth/policy.py).

The ``own_organisation`` relation is enforced by the loaders below: they load
the endpoint or delivery named in the path *through* the caller's organisation,
so another organisation's is a 404, never a 403.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.auth.markers import mark_loader, relation_of
from app.auth.policy import Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import not_found
from app.platform.config import Settings
from app.platform.db import SessionDep
from app.webhooks import service
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

WebhookLister = Annotated[Principal, Depends(require(Action.WEBHOOK_LIST))]
WebhookCreator = Annotated[Principal, Depends(require(Action.WEBHOOK_CREATE))]
DeliveryLister = Annotated[Principal, Depends(require(Action.WEBHOOK_DELIVERY_LIST))]


def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings_of_app)]


@dataclass(frozen=True)
class OwnedWebhook:
    """An endpoint of the caller's organisation, and the caller."""

    endpoint: WebhookEndpoint
    principal: Principal


@dataclass(frozen=True)
class OwnedDelivery:
    """A delivery of the caller's organisation, and the caller."""

    delivery: WebhookDelivery
    principal: Principal


def owned_webhook(action: Action) -> Callable[..., Awaitable[OwnedWebhook]]:
    """Role check, then the path's endpoint loaded through the caller's organisation."""
    guard = require(action)
    relation = relation_of(action, Relation.OWN_ORGANISATION)

    async def dependency(
        webhook_id: uuid.UUID,
        session: SessionDep,
        principal: Annotated[Principal, Depends(guard)],
    ) -> OwnedWebhook:
        endpoint = await service.find(session, principal, webhook_id)
        if endpoint is None:
            raise not_found(action, principal, "webhook", webhook_id)
        return OwnedWebhook(endpoint, principal)

    return mark_loader(dependency, "webhook", action, relation, "path:webhook_id")


def owned_delivery(action: Action) -> Callable[..., Awaitable[OwnedDelivery]]:
    """Role check, then the path's delivery loaded through the caller's organisation."""
    guard = require(action)
    relation = relation_of(action, Relation.OWN_ORGANISATION)

    async def dependency(
        delivery_id: uuid.UUID,
        session: SessionDep,
        principal: Annotated[Principal, Depends(guard)],
    ) -> OwnedDelivery:
        delivery = await service.find_delivery(session, principal, delivery_id)
        if delivery is None:
            raise not_found(action, principal, "webhook_delivery", delivery_id)
        return OwnedDelivery(delivery, principal)

    return mark_loader(dependency, "delivery", action, relation, "path:delivery_id")


ManagedWebhook = Annotated[OwnedWebhook, Depends(owned_webhook(Action.WEBHOOK_MANAGE))]
RedeliveredDelivery = Annotated[OwnedDelivery, Depends(owned_delivery(Action.WEBHOOK_REDELIVER))]

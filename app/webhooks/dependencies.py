"""Permission-carrying dependencies for the webhook routes (see auth/policy.py).

The ``own_organisation`` relation is enforced by the loaders below: they load
the endpoint or delivery named in the path *through* the caller's organisation,
so another organisation's is a 404, never a 403.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import path_loader
from app.auth.markers import mark_loader, relation_of
from app.auth.policy import Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import not_found
from app.platform.config import Settings
from app.webhooks import service
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

WebhookLister = Annotated[Principal, Depends(require(Action.WEBHOOK_LIST))]
WebhookCreator = Annotated[Principal, Depends(require(Action.WEBHOOK_CREATE))]
DeliveryLister = Annotated[Principal, Depends(require(Action.WEBHOOK_DELIVERY_LIST))]


async def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings_of_app)]

Owned = TypeVar("Owned")


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


def _owned(
    action: Action,
    kind: str,
    target_type: str,
    id_name: str,
    find: Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[Any]],
    wrap: Callable[[Any, Principal], Owned],
) -> Callable[..., Awaitable[Owned]]:
    """Role check, then the object the path names (``id_name``), found only among the
    caller's organisation's (``find``); any other is a 404."""
    guard = require(action)
    relation = relation_of(action, Relation.OWN_ORGANISATION)

    async def load(session: AsyncSession, principal: Principal, object_id: uuid.UUID) -> Owned:
        found = await find(session, principal, object_id)
        if found is None:
            raise not_found(action, principal, target_type, object_id)
        return wrap(found, principal)

    dependency = path_loader(guard, id_name, load)

    return mark_loader(dependency, kind, action, relation, f"path:{id_name}")


def owned_webhook(action: Action) -> Callable[..., Awaitable[OwnedWebhook]]:
    """The path's endpoint, loaded through the caller's organisation."""
    return _owned(action, "webhook", "webhook", "webhook_id", service.find, OwnedWebhook)


def owned_delivery(action: Action) -> Callable[..., Awaitable[OwnedDelivery]]:
    """The path's delivery, loaded through the caller's organisation."""
    find = service.find_delivery
    return _owned(action, "delivery", "webhook_delivery", "delivery_id", find, OwnedDelivery)


ManagedWebhook = Annotated[OwnedWebhook, Depends(owned_webhook(Action.WEBHOOK_MANAGE))]
RedeliveredDelivery = Annotated[OwnedDelivery, Depends(owned_delivery(Action.WEBHOOK_REDELIVER))]

"""The webhook fan-out job: outbox events -> deliveries (sent by app/webhooks/delivery.py).

**Fan-out** (a singleton job): reads the outbox after its stored cursor and
creates one delivery per (event, subscribed endpoint) whose organisation may see
the event's object (app/events/service.py, ``visible_to_organisation``). It also
looks again at the last :data:`RESCAN` of events, a safety net: events commit in
sequence order (app/events/outbox.py), so none should commit behind the cursor;
the (endpoint, event) unique key keeps the rescan idempotent.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import OutboxEvent
from app.events.service import visible_to_organisation
from app.jobs.registry import JobContext
from app.platform.clock import clock
from app.webhooks.models import DeliveryStatus, WebhookCursor, WebhookDelivery, WebhookEndpoint

CURSOR = "fanout"
RESCAN = timedelta(seconds=30)
FANOUT_BATCH = 500


async def fan_out(ctx: JobContext) -> int:
    """Create the deliveries of the outbox events after the cursor; returns how many."""
    async with ctx.db.sessionmaker() as session:
        made = await _fan_out(session)
        await session.commit()
    return made


async def _cursor(session: AsyncSession) -> WebhookCursor:
    stmt = select(WebhookCursor).where(WebhookCursor.name == CURSOR).with_for_update()
    cursor = await session.scalar(stmt)
    if cursor is None:
        cursor = WebhookCursor(name=CURSOR, last_sequence=0)
        session.add(cursor)
        await session.flush()
    return cursor


async def _fan_out(session: AsyncSession) -> int:
    cursor = await _cursor(session)
    now = clock.now()
    stmt = (
        select(OutboxEvent)
        .where(
            or_(
                OutboxEvent.sequence > cursor.last_sequence,
                OutboxEvent.occurred_at > now - RESCAN,
            )
        )
        .order_by(OutboxEvent.sequence)
        .limit(FANOUT_BATCH)
    )
    events = list((await session.scalars(stmt)).all())
    if not events:
        return 0
    endpoints = (
        await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)))
    ).all()
    ids = [e.id for e in events]
    existing = set(
        (
            await session.execute(
                select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id).where(
                    WebhookDelivery.event_id.in_(ids)
                )
            )
        ).all()
    )
    visible: dict[uuid.UUID, set[uuid.UUID]] = {}
    for org in {e.organisation_id for e in endpoints}:
        rows = await session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.id.in_(ids), visible_to_organisation(org))
        )
        visible[org] = set(rows.all())
    made = 0
    for event in events:
        for endpoint in endpoints:
            if (
                event.type in endpoint.event_types
                and event.id in visible[endpoint.organisation_id]
                and event.occurred_at >= endpoint.created_at
                and (endpoint.id, event.id) not in existing
            ):
                session.add(
                    WebhookDelivery(
                        id=uuid.uuid4(),
                        endpoint_id=endpoint.id,
                        organisation_id=endpoint.organisation_id,
                        event_id=event.id,
                        event_type=event.type,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                made += 1
    cursor.last_sequence = max(cursor.last_sequence, events[-1].sequence)
    await session.flush()
    return made

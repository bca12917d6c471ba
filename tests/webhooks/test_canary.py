"""No personal data in any webhook payload or delivery row: canary strings in every
free-text and name field of the changes that emit, subscribed to every event type
by each organisation involved, then none in any body, header or stored row."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.outbox import EventType
from app.jobs.registry import JobContext
from app.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.referrals.conftest import build_referral_world, create, moved
from tests.webhooks.helpers import API, run, subscribe
from tests.webhooks.receiver import Receiver
from tests.world import TokenFactory, make_user, open_case

CANARY = "Kanarialintu"


async def test_no_canary_reaches_a_webhook(
    dev_client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    ctx: JobContext,
    receiver: Receiver,
) -> None:
    rw = await build_referral_world(db, tokens)
    world = rw.world
    every = [t.value for t in EventType]
    for org in (world.org, world.social, rw.provider_org):
        admin = await make_user(db, tokens, org, "admin")
        await db.commit()
        await subscribe(dev_client, admin, f"{receiver.url}/{org.code}", every)
    case = await open_case(dev_client, rw.lead, world.marak, summary=f"{CANARY} summary")
    r = await dev_client.post(
        f"{API}/cases/{case['id']}/notes",
        json={"text": f"{CANARY} note", "kind": "fact"},
        headers=rw.lead.headers,
    )
    assert r.status_code == 201, r.text
    referral = await create(
        dev_client, rw, reason=f"{CANARY} reason", note_to_provider=f"{CANARY} note"
    )
    referral = await moved(dev_client, rw.lead, referral, "requested")
    referral = await moved(dev_client, rw.provider, referral, "received")
    await moved(
        dev_client,
        rw.provider,
        referral,
        "rejected",
        reason_code="no_capacity",
        reason_text=f"{CANARY} decline",
    )
    await run(ctx, rounds=2)
    assert len(receiver.received) >= 4
    paths = {item.path for item in receiver.received}
    assert f"/hook/{rw.provider_org.code}" in paths  # the provider gets its referral's events
    for item in receiver.received:
        assert CANARY not in item.body.decode()
        assert CANARY not in str(item.headers)
    for model in (WebhookDelivery, WebhookAttempt):
        for row in (await db.scalars(select(model))).all():
            for column in model.__table__.columns.keys():
                assert CANARY not in str(getattr(row, column)), (model, column)

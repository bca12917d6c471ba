"""Delivery to a real receiver on 127.0.0.1: signatures, retries, 410, Retry-After,
dead letters, secret rotation, redelivery, and who receives what."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.cases.models import CaseExclusion
from app.jobs.registry import JobContext, Jobs
from app.webhooks import delivery, fanout
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.webhooks.helpers import API, cases, deliveries, run, subscribe
from tests.webhooks.receiver import Received, Receiver
from tests.world import Actor, TokenFactory, World, make_user, with_etag


async def _rows(ctx: JobContext) -> list[WebhookDelivery]:
    async with ctx.db.sessionmaker() as session:
        return list((await session.scalars(select(WebhookDelivery))).all())


def _verify(secret: str, item: Received) -> Any:
    return Webhook(secret).verify(item.body, item.headers)


async def test_the_jobs_are_registered(jobs: Jobs) -> None:
    assert not jobs.get("webhooks.fan_out").run.__name__.startswith("<")
    assert jobs.get("webhooks.fan_out").singleton is True
    assert jobs.get("webhooks.deliver").singleton is False


async def test_a_receiver_verifies_the_signature_and_a_tampered_body_fails(
    dev_client: httpx.AsyncClient, ctx: JobContext, world: World, admin: Actor, receiver: Receiver
) -> None:
    hook = await subscribe(dev_client, admin, receiver.url)
    case = (await cases(dev_client, world))[0]
    assert await run(ctx) == 1
    (item,) = receiver.received
    body = _verify(hook["secret"], item)
    assert body["type"] == "case.created"
    assert body["data"]["target_id"] == case["id"]
    assert body["data"]["case_id"] == case["id"]  # the organisation takes part in the case
    assert set(body) == {"type", "timestamp", "data"}
    assert set(body["data"]) <= {"event_id", "target_type", "target_id", "case_id"}
    assert item.headers["webhook-id"].startswith("msg_")
    tampered = item.body.replace(b"case.created", b"case.createD")
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(tampered, item.headers)
    other = (await subscribe(dev_client, admin, receiver.url + "2"))["secret"]
    with pytest.raises(WebhookVerificationError):
        _verify(other, item)
    (logged,) = await deliveries(dev_client, admin)
    assert logged["status"] == "succeeded"
    assert logged["message_id"] == item.headers["webhook-id"]
    assert [a["status_code"] for a in logged["attempt_log"]] == [204]


async def test_a_receiver_down_for_a_while_gets_every_event_once_back(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    world: World,
    admin: Actor,
    receiver: Receiver,
    frozen: Any,
) -> None:
    await subscribe(dev_client, admin, receiver.url)
    receiver.stop()  # down
    start = datetime.now(UTC)
    frozen.freeze(start)
    await cases(dev_client, world, 3)
    assert await run(ctx) == 3  # first attempts: connection refused
    rows = await _rows(ctx)
    assert {(d.attempts, d.last_error) for d in rows} == {(1, "connect_error")}
    # Nothing is due before the 5 s retry (with jitter, at least 4.5 s).
    frozen.freeze(start + timedelta(seconds=4))
    assert await run(ctx) == 0
    frozen.freeze(start + timedelta(seconds=6))
    assert await run(ctx) == 3  # second attempts, still down
    receiver.start()  # back, on the same port
    frozen.freeze(start + timedelta(minutes=6))  # the 5 min retry is due
    assert await run(ctx) == 3
    assert sorted(receiver.ids()) == sorted(delivery.service.message_id(d.id) for d in rows)
    assert len(set(receiver.ids())) == 3
    frozen.freeze(start + timedelta(hours=30))
    assert await run(ctx) == 0  # nothing is sent twice
    logged = await deliveries(dev_client, admin)
    assert {d["status"] for d in logged} == {"succeeded"}
    for d in logged:
        assert [a["error"] for a in d["attempt_log"]] == ["connect_error", "connect_error", None]


async def test_the_webhook_id_is_stable_and_timestamp_and_signature_are_per_attempt(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    world: World,
    admin: Actor,
    receiver: Receiver,
    frozen: Any,
) -> None:
    answers = iter([500, 200])
    receiver.respond = lambda _: (next(answers), {})
    await subscribe(dev_client, admin, receiver.url)
    start = datetime.now(UTC)
    frozen.freeze(start)
    await cases(dev_client, world)
    await run(ctx)
    frozen.freeze(start + timedelta(seconds=10))
    await run(ctx)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]


async def test_410_disables_the_endpoint(
    dev_client: httpx.AsyncClient, ctx: JobContext, world: World, admin: Actor, receiver: Receiver
) -> None:
    receiver.respond = lambda _: (410, {})
    hook = await subscribe(dev_client, admin, receiver.url)
    await cases(dev_client, world)
    await run(ctx)
    r = await dev_client.get(f"{API}/webhooks/{hook['id']}", headers=admin.headers)
    assert r.json()["enabled"] is False
    assert "410" in r.json()["disabled_reason"]
    (logged,) = await deliveries(dev_client, admin)
    assert logged["status"] == "dropped"
    await cases(dev_client, world)
    await run(ctx)
    assert len(receiver.received) == 1  # a disabled endpoint gets nothing more


@pytest.mark.parametrize("status", [429, 502, 504])
@pytest.mark.parametrize("form", ["seconds", "date"])
async def test_retry_after_is_honoured(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    world: World,
    admin: Actor,
    receiver: Receiver,
    frozen: Any,
    status: int,
    form: str,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    frozen.freeze(start)
    value = "600" if form == "seconds" else format_datetime(start + timedelta(seconds=600), True)
    receiver.respond = lambda _: (status, {"Retry-After": value})
    await subscribe(dev_client, admin, receiver.url)
    await cases(dev_client, world)
    await run(ctx)
    (row,) = await _rows(ctx)
    assert row.last_status_code == status
    assert row.next_attempt_at == start + timedelta(seconds=600)  # not the schedule's 5 s
    frozen.freeze(start + timedelta(seconds=60))
    assert await run(ctx) == 0
    receiver.respond = lambda _: (200, {})
    frozen.freeze(start + timedelta(seconds=601))
    assert await run(ctx) == 1
    assert len(receiver.received) == 2


async def test_retry_after_is_capped(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    world: World,
    admin: Actor,
    receiver: Receiver,
    frozen: Any,
) -> None:
    start = datetime.now(UTC)
    frozen.freeze(start)
    receiver.respond = lambda _: (429, {"Retry-After": str(10 * 86_400)})
    await subscribe(dev_client, admin, receiver.url)
    await cases(dev_client, world)
    await run(ctx)
    (row,) = await _rows(ctx)
    cap = ctx.settings.webhook_retry_after_cap_seconds
    assert row.next_attempt_at == start + timedelta(seconds=cap)


async def test_a_dead_letter_after_the_schedule_and_manual_redelivery(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    world: World,
    admin: Actor,
    receiver: Receiver,
    frozen: Any,
) -> None:
    receiver.respond = lambda _: (500, {})
    await subscribe(dev_client, admin, receiver.url)
    start = datetime.now(UTC)
    frozen.freeze(start)
    await cases(dev_client, world)
    now = start
    gaps = []
    for expected in delivery.SCHEDULE:
        now += timedelta(seconds=expected * 1.11 + 1)
        frozen.freeze(now)
        assert await run(ctx) == 1
        (row,) = await _rows(ctx)
        if row.next_attempt_at is not None:
            gaps.append((row.next_attempt_at - now).total_seconds())
    # The schedule with jitter: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
    for gap, base in zip(gaps, delivery.SCHEDULE[1:], strict=True):
        assert base * 0.9 <= gap <= base * 1.1
    assert len(receiver.received) == len(delivery.SCHEDULE) == 10
    (logged,) = await deliveries(dev_client, admin, status="dead")
    assert len(logged["attempt_log"]) == 10
    frozen.freeze(now + timedelta(days=3))
    assert await run(ctx) == 0
    receiver.respond = lambda _: (200, {})
    r = await dev_client.post(
        f"{API}/webhook-deliveries/{logged['id']}/redelivery", headers=admin.headers
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    assert await run(ctx) == 1
    (logged,) = await deliveries(dev_client, admin)
    assert logged["status"] == "succeeded"
    assert len({x.headers["webhook-id"] for x in receiver.received}) == 1


async def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    world: World,
    admin: Actor,
    receiver: Receiver,
    frozen: Any,
) -> None:
    hook = await subscribe(dev_client, admin, receiver.url)
    old = hook["secret"]
    r = await dev_client.post(
        f"{API}/webhooks/{hook['id']}/secret", headers=with_etag(admin, hook["etag"])
    )
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert r.json()["previous_until"] is not None
    await cases(dev_client, world)
    await run(ctx)
    (during,) = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    _verify(old, during)
    _verify(new, during)
    # After the overlap: only the new secret signs. (The receiver verifies against the
    # real time, so this checks the signatures themselves.)
    later = datetime.now(UTC) + timedelta(seconds=ctx.settings.webhook_secret_overlap_seconds + 1)
    frozen.freeze(later)
    await cases(dev_client, world)
    await run(ctx)
    after = receiver.received[-1]
    msg_id, stamp = after.headers["webhook-id"], after.headers["webhook-timestamp"]
    at = datetime.fromtimestamp(int(stamp), UTC)
    assert after.headers["webhook-signature"] == Webhook(new).sign(msg_id, at, after.body)
    assert Webhook(old).sign(msg_id, at, after.body) not in after.headers["webhook-signature"]


async def test_an_organisation_receives_only_what_it_may_see(
    dev_client: httpx.AsyncClient,
    ctx: JobContext,
    db: AsyncSession,
    tokens: TokenFactory,
    world: World,
    admin: Actor,
    receiver: Receiver,
) -> None:
    """The police organisation takes part in its officer's cases; world.other does not."""
    other_admin = await make_user(db, tokens, world.other, "admin")
    await db.commit()
    mine = await subscribe(dev_client, admin, receiver.url + "/mine")
    await subscribe(dev_client, other_admin, receiver.url + "/other")
    await cases(dev_client, world, 2)
    await run(ctx)
    assert {r.path for r in receiver.received} == {"/hook/mine"}
    assert len(receiver.received) == 2
    assert await deliveries(dev_client, other_admin) == []
    # Access lost between fan-out and send: the delivery is dropped with a reason.
    receiver.received.clear()
    case = (await cases(dev_client, world))[0]
    await fanout.fan_out(ctx)
    async with ctx.db.sessionmaker() as session:
        session.add(
            CaseExclusion(
                case_id=uuid.UUID(case["id"]),
                organisation_id=world.org.id,
                reason_plain="test",
                added_by=world.police.id,
            )
        )
        await session.commit()
    assert await delivery.deliver_due(ctx) == 1
    assert receiver.received == []
    dropped = await deliveries(dev_client, admin, status="dropped", webhook_id=mine["id"])
    assert [d["dropped_reason"] for d in dropped] == ["the organisation no longer sees the object"]


async def test_the_log_filters_and_holds_no_bodies(
    dev_client: httpx.AsyncClient, ctx: JobContext, world: World, admin: Actor, receiver: Receiver
) -> None:
    receiver.respond = lambda r: (500 if r.path.endswith("bad") else 200, {})
    good = await subscribe(dev_client, admin, receiver.url + "/good")
    await subscribe(dev_client, admin, receiver.url + "/bad")
    await cases(dev_client, world, 2)
    await run(ctx)
    assert len(await deliveries(dev_client, admin)) == 4
    assert len(await deliveries(dev_client, admin, status="pending")) == 2
    assert len(await deliveries(dev_client, admin, webhook_id=good["id"])) == 2
    assert await deliveries(dev_client, admin, event_type="referral.requested") == []
    page = await dev_client.get(
        f"{API}/webhook-deliveries", params={"limit": 3}, headers=admin.headers
    )
    assert len(page.json()["items"]) == 3 and page.json()["next_cursor"]
    nxt = await dev_client.get(
        f"{API}/webhook-deliveries",
        params={"limit": 3, "cursor": page.json()["next_cursor"]},
        headers=admin.headers,
    )
    assert len(nxt.json()["items"]) == 1
    text = json.dumps(await deliveries(dev_client, admin))
    assert "body" not in text
    async with ctx.db.sessionmaker() as session:
        for ep in (await session.scalars(select(WebhookEndpoint))).all():
            assert "whsec_" not in ep.secret_enc.token

"""Subscriptions: the secret shown once, If-Match, Idempotency-Key, pagination,
organisation isolation, and the URL policy (422 problem+json)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.webhooks.models import WebhookEndpoint
from tests.problems import assert_problem
from tests.webhooks.helpers import API, subscribe
from tests.world import Actor, TokenFactory, World, make_user, with_etag

PUBLIC = "https://93.184.215.14/hooks"  # an address literal: no DNS needed


async def test_create_shows_the_secret_once_and_seals_it(
    client: httpx.AsyncClient, db: AsyncSession, admin: Actor
) -> None:
    hook = await subscribe(client, admin, PUBLIC, ["case.created", "referral.requested"])
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 32
    assert hook["event_types"] == ["case.created", "referral.requested"]
    assert hook["enabled"] is True
    r = await client.get(f"{API}/webhooks/{hook['id']}", headers=admin.headers)
    assert r.status_code == 200
    assert "secret" not in r.json()
    assert r.headers["etag"] == hook["etag"]
    listed = await client.get(f"{API}/webhooks", headers=admin.headers)
    assert [w["id"] for w in listed.json()["items"]] == [hook["id"]]
    assert "secret" not in listed.text
    row = await db.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(hook["id"]))
    )
    assert row is not None
    assert secret not in row.secret_enc.token
    audited = await db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == hook["id"]))
    assert "webhook.created" in list(audited)


async def test_idempotent_create(client: httpx.AsyncClient, admin: Actor) -> None:
    headers = {**admin.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"url": PUBLIC, "event_types": ["case.created"]}
    first = await client.post(f"{API}/webhooks", json=body, headers=headers)
    again = await client.post(f"{API}/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    listed = await client.get(f"{API}/webhooks", headers=admin.headers)
    assert len(listed.json()["items"]) == 1


async def test_patch_needs_if_match_and_delete_removes(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    hook = await subscribe(client, admin, PUBLIC)
    path = f"{API}/webhooks/{hook['id']}"
    assert_problem(await client.patch(path, json={"description": "x"}, headers=admin.headers), 428)
    stale = with_etag(admin, '"999"')
    assert_problem(await client.patch(path, json={"description": "x"}, headers=stale), 412)
    r = await client.patch(
        path,
        json={"description": "Municipal system", "enabled": False, "event_types": ["plan.agreed"]},
        headers=with_etag(admin, hook["etag"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and r.json()["event_types"] == ["plan.agreed"]
    assert r.headers["etag"] != hook["etag"]
    assert_problem(await client.delete(path, headers=admin.headers), 428)
    r = await client.delete(path, headers=with_etag(admin, r.headers["etag"]))
    assert r.status_code == 204
    assert_problem(await client.get(path, headers=admin.headers), 404)


async def test_pagination(client: httpx.AsyncClient, admin: Actor) -> None:
    made = {(await subscribe(client, admin, f"{PUBLIC}/{i}"))["id"] for i in range(3)}
    seen: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/webhooks", params=params, headers=admin.headers)).json()
        seen |= {w["id"] for w in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made


async def test_another_organisations_endpoint_is_a_404(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World, admin: Actor
) -> None:
    hook = await subscribe(client, admin, PUBLIC)
    stranger = await make_user(db, tokens, world.other, "admin")
    await db.commit()
    path = f"{API}/webhooks/{hook['id']}"
    headers = with_etag(stranger, hook["etag"])
    assert_problem(await client.get(path, headers=headers), 404)
    assert_problem(await client.patch(path, json={"description": "x"}, headers=headers), 404)
    assert_problem(await client.delete(path, headers=headers), 404)
    assert_problem(await client.post(f"{path}/secret", headers=headers), 404)
    assert (await client.get(f"{API}/webhooks", headers=stranger.headers)).json()["items"] == []
    missing = f"{API}/webhook-deliveries/{uuid.uuid4()}/redelivery"
    assert_problem(await client.post(missing, headers=stranger.headers), 404)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # not https
        "https://127.0.0.1/hooks",  # loopback
        "https://localhost/hooks",  # resolves to loopback
        "https://10.1.2.3/hooks",  # private
        "https://192.168.1.10/hooks",
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped loopback
        "https://0.0.0.0/hooks",
        "https://user:pass@93.184.215.14/hooks",  # credentials in the URL
        "ftp://93.184.215.14/hooks",
        "https:///nohost",
    ],
)
async def test_the_url_policy_refuses(client: httpx.AsyncClient, admin: Actor, url: str) -> None:
    r = await client.post(
        f"{API}/webhooks", json={"url": url, "event_types": ["case.created"]}, headers=admin.headers
    )
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["url"]
    assert url not in r.text


async def test_the_url_policy_applies_to_changes_too(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    hook = await subscribe(client, admin, PUBLIC)
    r = await client.patch(
        f"{API}/webhooks/{hook['id']}",
        json={"url": "https://127.0.0.1/x"},
        headers=with_etag(admin, hook["etag"]),
    )
    assert_problem(r, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"url": PUBLIC, "event_types": ["case.deleted"]},
        {"url": PUBLIC, "event_types": []},
        {"url": PUBLIC},
        {"url": PUBLIC, "event_types": ["case.created"], "secret": "whsec_mine"},
    ],
)
async def test_bad_bodies_are_422(
    client: httpx.AsyncClient, admin: Actor, body: dict[str, Any]
) -> None:
    assert_problem(await client.post(f"{API}/webhooks", json=body, headers=admin.headers), 422)

"""Cursors are opaque to clients but not trusted: a forged one is 422, never a 500."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.problems import assert_problem


def forged(payload: dict[str, Any]) -> str:
    raw = json.dumps({**payload, "id": "00000000-0000-4000-8000-000000000001"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NOT_A_TIMESTAMP = {
    "string": forged({"v": "abc"}),
    "number": forged({"v": 5}),
    "boolean": forged({"v": True}),
    "naive timestamp": forged({"t": "2026-01-01T00:00:00"}),
    "garbage": "not-a-cursor",
}
NOT_A_NAME = {
    "timestamp": forged({"t": "2026-01-01T00:00:00+00:00"}),
    "number": forged({"v": 5}),
    "boolean": forged({"v": True}),
    "garbage": "not-a-cursor",
}
#: (role, list route, forged cursors): lists sorted by a timestamp, and one by name.
CASES = [
    (role, path, name, cursor)
    for role, path, forgeries in (
        ("police", "/api/v1/cases", NOT_A_TIMESTAMP),
        ("auditor", "/api/v1/audit/events", NOT_A_TIMESTAMP),
        ("police", "/api/v1/referrals", NOT_A_TIMESTAMP),
        ("admin", "/api/v1/services", NOT_A_NAME),
    )
    for name, cursor in forgeries.items()
]


@pytest.mark.parametrize(("role", "path", "name", "cursor"), CASES, ids=lambda v: str(v)[:24])
async def test_forged_cursor_is_422(
    client: httpx.AsyncClient, make_actor: Any, role: str, path: str, name: str, cursor: str
) -> None:
    actor = await make_actor(role, org=f"org-{uuid.uuid4().hex[:8]}")
    r = await client.get(path, params={"cursor": cursor}, headers=actor.headers)
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "cursor", name

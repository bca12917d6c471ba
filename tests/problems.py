"""Assertions shared by tests that expect an RFC 9457 problem response."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = ("type", "title", "status", "detail", "instance")


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is problem+json with every RFC 9457 member and the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    missing = [f for f in PROBLEM_FIELDS if f not in body]
    assert not missing, f"problem lacks {missing}: {body}"
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"] and body["detail"]
    rid = response.headers.get("x-request-id")
    assert rid, "every response carries X-Request-ID"
    assert body["instance"] == f"urn:casecoord:request:{rid}"
    return body

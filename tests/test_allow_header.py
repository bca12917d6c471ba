"""A 405's ``Allow`` lists every method its path has, not only the first route's."""

from __future__ import annotations

import httpx
import pytest

from tests.problems import assert_problem

CASE = "/api/v1/cases/00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # GET and PATCH of one path are two routes: the README's edit without -X PATCH.
        ("POST", "/api/v1/services/00000000-0000-0000-0000-000000000001", {"GET", "PATCH"}),
        ("PUT", CASE, {"GET", "PATCH"}),
        ("DELETE", "/api/v1/me", {"GET"}),
        ("PUT", "/api/v1/organisations", {"GET", "POST"}),
        ("DELETE", "/healthz", {"GET"}),
    ],
)
async def test_405_allow_names_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    # No token: routing answers before authentication, and says nothing about the resource.
    r = await client.request(method, path)
    body = assert_problem(r, 405)
    assert body["type"].endswith("/method-not-allowed")
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


async def test_every_method_named_in_allow_is_routed(client: httpx.AsyncClient) -> None:
    """Each method that Allow advertises reaches a route (no 405 for it)."""
    r = await client.request("DELETE", CASE)
    for method in (m.strip() for m in r.headers["allow"].split(",")):
        assert (await client.request(method, CASE)).status_code != 405, method

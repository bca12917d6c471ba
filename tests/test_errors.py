"""Every error leaves the service as RFC 9457 problem+json, without leaking data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database
from tests.problems import assert_problem

ORGS = "/api/v1/organisations"
CANARY = "Canary-Virtanen-010190-987X"


class TestNotFound:
    async def test_unknown_path_gets_404_problem(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/no-such-thing")
        body = assert_problem(r, 404)
        assert body["type"].endswith("/not-found")

    async def test_unknown_object_gets_404_problem(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.get(f"{ORGS}/{uuid.uuid4()}", headers=admin.headers)
        assert_problem(r, 404)


class TestMethodNotAllowed:
    async def test_wrong_method_gets_405_problem_with_allow(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.delete("/api/v1/me")
        body = assert_problem(r, 405)
        assert body["type"].endswith("/method-not-allowed")
        assert "GET" in r.headers["allow"]


class TestPayloadTooLarge:
    async def test_declared_oversized_body_gets_413(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        body = b'{"pad": "' + b"x" * settings.max_body_bytes + b'"}'
        r = await client.post(ORGS, content=body, headers={"Content-Type": "application/json"})
        problem = assert_problem(r, 413)
        assert problem["type"].endswith("/payload-too-large")

    async def test_streamed_oversized_body_gets_413(
        self, client: httpx.AsyncClient, make_actor: Any, settings: Settings
    ) -> None:
        admin = await make_actor("admin")
        chunk, count = b"x" * 4096, settings.max_body_bytes // 4096 + 2
        sent = 0

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b'{"code": "big", "name": "'
            for _ in range(count):
                sent += len(chunk)
                yield chunk
            yield b'", "kind": "ngo"}'

        r = await client.post(
            ORGS,
            content=chunks(),
            headers={**admin.headers, "Content-Type": "application/json"},
        )
        assert "content-length" not in r.request.headers
        assert r.request.headers["transfer-encoding"] == "chunked"
        # The stream would exceed the limit, and the server stopped reading it early.
        assert len(chunk) * count > settings.max_body_bytes
        assert sent < len(chunk) * count
        problem = assert_problem(r, 413)
        assert problem["type"].endswith("/payload-too-large")

    async def test_body_at_the_limit_is_accepted(
        self, client: httpx.AsyncClient, make_actor: Any, settings: Settings
    ) -> None:
        admin = await make_actor("admin")
        payload = b'{"code": "at-limit", "name": "n", "kind": "ngo"}'
        body = payload + b" " * (settings.max_body_bytes - len(payload))
        assert len(body) == settings.max_body_bytes
        r = await client.post(
            ORGS, content=body, headers={**admin.headers, "Content-Type": "application/json"}
        )
        assert r.status_code == 201, r.text


class TestUnsupportedMediaType:
    async def test_text_plain_body_gets_415(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.post(
            ORGS,
            content=b'{"code": "x1", "name": "X", "kind": "ngo"}',
            headers={**admin.headers, "Content-Type": "text/plain"},
        )
        body = assert_problem(r, 415)
        assert body["type"].endswith("/unsupported-media-type")

    async def test_form_body_gets_415(self, client: httpx.AsyncClient, make_actor: Any) -> None:
        admin = await make_actor("admin")
        r = await client.post(ORGS, data={"code": "x1"}, headers=admin.headers)
        assert_problem(r, 415)


class TestValidationError:
    async def test_invalid_body_gets_422_listing_fields(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.post(
            ORGS,
            json={"code": CANARY, "name": "", "kind": CANARY, "unexpected": CANARY},
            headers=admin.headers,
        )
        body = assert_problem(r, 422)
        fields = {e["field"] for e in body["errors"]}
        assert {"code", "name", "kind", "unexpected"} <= fields
        assert all(e["location"] == "body" for e in body["errors"])

    async def test_422_does_not_echo_submitted_values(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.post(
            ORGS, json={"code": CANARY, "name": CANARY * 20, "kind": CANARY}, headers=admin.headers
        )
        assert_problem(r, 422)
        assert CANARY not in r.text
        assert CANARY.lower() not in r.text.lower()

    async def test_malformed_json_gets_422_without_echo(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.post(
            ORGS,
            content=f'{{"code": "{CANARY}", "name": '.encode(),
            headers={**admin.headers, "Content-Type": "application/json"},
        )
        assert_problem(r, 422)
        assert CANARY not in r.text

    async def test_invalid_path_parameter_does_not_echo_it(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.get(f"{ORGS}/{CANARY}", headers=admin.headers)
        body = assert_problem(r, 422)
        [error] = body["errors"]
        assert error["field"] == "path.org_id"
        assert error["message"].startswith("Input should be a valid UUID")
        # Not even the single character pydantic quotes from the input.
        assert "`" not in error["message"]
        assert CANARY not in r.text
        assert "Canary" not in r.text

    async def test_invalid_query_parameter_gets_422(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        r = await client.get(ORGS, params={"limit": 0, "kind": CANARY}, headers=admin.headers)
        body = assert_problem(r, 422)
        assert {e["location"] for e in body["errors"]} == {"query"}
        assert CANARY not in r.text


class TestPreconditions:
    async def _org(self, client: httpx.AsyncClient, admin: Any) -> httpx.Response:
        r = await client.post(
            ORGS,
            json={"code": f"org-{uuid.uuid4().hex[:8]}", "name": "Org", "kind": "ngo"},
            headers=admin.headers,
        )
        assert r.status_code == 201, r.text
        return r

    async def test_patch_without_if_match_gets_428(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        org = (await self._org(client, admin)).json()
        r = await client.patch(f"{ORGS}/{org['id']}", json={"name": "New"}, headers=admin.headers)
        body = assert_problem(r, 428)
        assert body["type"].endswith("/precondition-required")

    async def test_patch_with_stale_if_match_gets_412(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        created = await self._org(client, admin)
        org_id, etag = created.json()["id"], created.headers["etag"]
        first = await client.patch(
            f"{ORGS}/{org_id}", json={"name": "First"}, headers={**admin.headers, "If-Match": etag}
        )
        assert first.status_code == 200, first.text
        r = await client.patch(
            f"{ORGS}/{org_id}", json={"name": "Second"}, headers={**admin.headers, "If-Match": etag}
        )
        body = assert_problem(r, 412)
        assert body["current_etag"] == first.headers["etag"]
        check = await client.get(f"{ORGS}/{org_id}", headers=admin.headers)
        assert check.json()["name"] == "First"


class TestInternalError:
    async def test_500_is_a_problem_without_internals(
        self, settings: Settings, connection: AsyncConnection
    ) -> None:
        throwaway = create_app(settings, database=Database.bound_to(connection))

        @throwaway.get("/boom")
        async def boom() -> None:
            raise RuntimeError(f"secret internals {CANARY} at /srv/app/secret.py")

        transport = httpx.ASGITransport(app=throwaway, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/boom")
        body = assert_problem(r, 500)
        assert body["type"].endswith("/internal-error")
        for leak in ("Traceback", "RuntimeError", "secret", CANARY, ".py"):
            assert leak not in r.text
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_the_edge_reads_its_headers_as_a_dict_of_all_of_them_would() -> None:
    """The edge decodes only the headers it reads (issue 13): any case, last one wins."""
    from app.platform.middleware import _edge_headers

    scope = {
        "headers": [
            (b"Content-Type", b"text/plain"),
            (b"authorization", b"Bearer secret"),
            (b"content-type", b"application/json"),
            (b"X-Request-Id", b"trace-1"),
            (b"content-length", b"12"),
        ]
    }
    assert _edge_headers(scope) == {
        "content-type": "application/json",
        "x-request-id": "trace-1",
        "content-length": "12",
    }

"""Operations: liveness, readiness, metrics, headers and offline API docs."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database
from tests.problems import assert_problem

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class TestHealthz:
    async def test_process_up_gets_200(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}


class TestReadyz:
    async def test_migrated_database_gets_200_ready(self, client: httpx.AsyncClient) -> None:
        from app.ops.migrate import head_revision

        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ready", "revision": head_revision()}

    async def test_unmigrated_database_gets_503(self, settings: Settings) -> None:
        empty = Database.from_url("sqlite+aiosqlite://")  # no tables at all
        app = create_app(settings, database=empty)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get("/readyz")
        finally:
            await empty.dispose()
        body = assert_problem(r, 503)
        assert body["type"].endswith("/not-ready")
        assert "revision" not in body


class TestMetrics:
    async def test_counts_requests_by_route_template_never_raw_path(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin")
        missing = uuid.uuid4()
        await client.get(f"/api/v1/users/{admin.id}", headers=admin.headers)
        await client.get(f"/api/v1/users/{missing}", headers=admin.headers)
        await client.get(f"/api/v1/nowhere/{missing}")

        r = await client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert "casecoord_http_requests_total" in text
        assert "casecoord_http_request_duration_seconds" in text
        assert re.search(
            r'casecoord_http_requests_total\{method="GET",route="/api/v1/users/\{user_id\}",'
            r'status="200"\} [1-9]',
            text,
        ), text
        assert 'route="/api/v1/users/{user_id}",status="404"' in text
        assert 'route="unmatched",status="404"' in text
        assert str(admin.id) not in text
        assert str(missing) not in text
        assert not UUID_RE.search(text)


API_PATHS = ["/api/v1/me", "/healthz", "/api/v1/no-such-route"]


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", API_PATHS)
    async def test_api_responses_carry_security_headers_and_no_store(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        r = await client.get(path)
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["content-security-policy"]

    async def test_authenticated_response_is_not_cacheable(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        user = await make_actor("police")
        r = await client.get("/api/v1/me", headers=user.headers)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["pragma"] == "no-cache"
        assert len(r.headers.get_list("cache-control")) == 1


ASSET_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
JS_URL = re.compile(r"""url:\s*['"]([^'"]+)['"]""")


class TestOfflineDocs:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_docs_reference_only_local_assets_which_are_served(
        self, client: httpx.AsyncClient, page: str
    ) -> None:
        r = await client.get(page)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        html = r.text
        assert not re.search(r"https?://", html), "the docs page must not reference the internet"
        assets = [a for a in ASSET_REF.findall(html) if not a.startswith("/openapi.json")]
        assert assets, html
        for asset in assets:
            assert asset.startswith("/static-docs/"), asset
            served = await client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 0

    async def test_docs_load_the_local_contract(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/openapi.json")
        assert r.status_code == 200
        spec = r.json()
        assert "/api/v1/me" in spec["paths"]
        assert "/openapi.json" in (await client.get("/docs")).text


class TestRequestId:
    async def test_generated_request_id_is_returned_and_is_the_problem_instance(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.get("/api/v1/me")
        body = assert_problem(r, 401)
        rid = r.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
        assert body["instance"].rsplit(":", 1)[-1] == rid

    async def test_each_request_gets_its_own_id(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/healthz")
        second = await client.get("/healthz")
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_well_formed_incoming_request_id_is_kept(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/me", headers={"X-Request-ID": "lb-trace-0123456789"})
        assert r.headers["x-request-id"] == "lb-trace-0123456789"
        assert r.json()["instance"] == "urn:casecoord:request:lb-trace-0123456789"

    async def test_malformed_incoming_request_id_is_replaced(
        self, client: httpx.AsyncClient
    ) -> None:
        evil = 'x"><script>alert(1)</script>'
        r = await client.get("/api/v1/me", headers={"X-Request-ID": evil})
        assert r.headers["x-request-id"] != evil
        assert "script" not in r.text
        assert r.json()["instance"].endswith(r.headers["x-request-id"])


class TestMetricLabels:
    async def test_invented_methods_share_one_label(self, client: httpx.AsyncClient) -> None:
        invented = f"BREW{uuid.uuid4().hex[:6].upper()}"
        r = await client.request(invented, "/healthz")
        assert r.status_code == 405
        text = (await client.get("/metrics")).text
        assert invented not in text
        assert 'method="OTHER",route="/healthz",status="405"' in text

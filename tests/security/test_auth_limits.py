"""Failed authentication is rate-limited, and refusals of anonymous callers are tallied.

Each test builds its own app with low limits (the shared app's are set out of
reach in conftest), calls from its own made-up client addresses, and uses the
same test database transaction as every other test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.models import AuditEvent
from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database
from tests.problems import assert_problem
from tests.world import TokenFactory

ME = "/api/v1/me"
REDIS_URL = os.environ.get("CASECOORD_TEST_REDIS_URL")


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.fixture
def make_app(settings: Settings, connection: AsyncConnection) -> Callable[..., Any]:
    def factory(**overrides: Any) -> Any:
        limits = {
            "auth_failure_limit_per_address": "5/minute",
            "auth_failure_limit_per_subject": "3/minute",
            "auth_refusal_window_seconds": 60,
            **overrides,
        }
        app = create_app(
            settings.model_copy(update=limits), database=Database.from_url("sqlite+aiosqlite://")
        )
        app.state.db = Database.bound_to(connection)
        return app

    return factory


@pytest.fixture
async def caller() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def factory(app: Any, address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(address, 40000)
        )
        c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(c)
        return c

    yield factory
    for c in clients:
        await c.aclose()


def bad(tokens: TokenFactory) -> dict[str, str]:
    header, payload, _sig = tokens.mint(f"x-{uuid.uuid4().hex[:8]}").split(".")
    return {"Authorization": f"Bearer {header}.{payload}.AAAA"}


def good(tokens: TokenFactory, sub: str | None = None, org: str = "org-a") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(sub or f'ok-{uuid.uuid4().hex[:8]}', org=org)}"}


async def _audit_rows(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


class TestFailedAuthenticationLimit:
    async def test_after_n_failures_429_with_retry_after(
        self, make_app: Any, caller: Any, tokens: TokenFactory
    ) -> None:
        c = caller(make_app(), _address())
        for _ in range(5):
            assert_problem(await c.get(ME, headers=bad(tokens)), 401)
        r = await c.get(ME, headers=bad(tokens))
        body = assert_problem(r, 429)
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "retry" in body["detail"].lower()
        # a missing token is a failed authentication too
        assert_problem(await c.get(ME), 429)

    async def test_good_token_from_another_address_is_unaffected(
        self, make_app: Any, caller: Any, tokens: TokenFactory
    ) -> None:
        app = make_app()
        attacker, other = caller(app, _address()), caller(app, _address())
        for _ in range(8):
            await attacker.get(ME, headers=bad(tokens))
        assert (await attacker.get(ME, headers=bad(tokens))).status_code == 429
        r = await other.get(ME, headers=good(tokens))
        assert r.status_code == 200, r.text
        # Another address's failures still start from zero.
        assert (await other.get(ME, headers=bad(tokens))).status_code == 401

    async def test_good_token_from_the_limited_address_still_works(
        self, make_app: Any, caller: Any, tokens: TokenFactory
    ) -> None:
        """A shared office NAT: one broken client must not lock out its colleagues."""
        c = caller(make_app(), _address())
        for _ in range(6):
            await c.get(ME, headers=bad(tokens))
        assert (await c.get(ME, headers=bad(tokens))).status_code == 429
        assert (await c.get(ME, headers=good(tokens))).status_code == 200

    async def test_refused_known_subject_is_limited_and_audited_individually(
        self, make_app: Any, caller: Any, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        app = make_app(auth_failure_limit_per_address="1000/minute")
        sub = f"pinned-{uuid.uuid4().hex[:8]}"
        c = caller(app, _address())
        assert (await c.get(ME, headers=good(tokens, sub, "org-a"))).status_code == 200
        moved = good(tokens, sub, "org-b")  # validly signed, disagrees with the directory
        statuses = [(await c.get(ME, headers=moved)).status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        rows = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.user", AuditEvent.reason.contains("organisation")
                )
            )
        ).all()
        assert len([r for r in rows if r.client_ip and r.client_ip.startswith("10.")]) == 3
        # A different, fresh address does not escape the subject's limit.
        r = await caller(app, _address()).get(ME, headers=moved)
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1


class TestRefusalsAreAggregated:
    async def test_300_bad_tokens_add_at_most_one_row_per_window(
        self, make_app: Any, caller: Any, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        app = make_app(auth_failure_limit_per_address="50/minute")
        address = _address()
        c = caller(app, address)
        before = await _audit_rows(db)
        statuses: dict[int, int] = {}
        forged = bad(tokens)
        for _ in range(300):
            status = (await c.get(ME, headers=forged)).status_code
            statuses[status] = statuses.get(status, 0) + 1
        assert statuses == {401: 50, 429: 250}
        assert await _audit_rows(db) == before  # nothing written per refusal
        assert await app.state.auth_guard.flush(app.state.db) == 1
        rows = (await db.scalars(select(AuditEvent).where(AuditEvent.client_ip == address))).all()
        assert [(r.action, r.outcome, r.actor_id) for r in rows] == [
            ("auth.refused", "denied", None)
        ]
        assert (rows[0].reason or "").startswith("300 refused in 60s: "), rows[0].reason
        assert "429:signature rejected=250" in (rows[0].reason or "")
        assert await _audit_rows(db) == before + 1
        # the window is closed: nothing more to write
        assert await app.state.auth_guard.flush(app.state.db) == 0

    async def test_refusals_are_counted_in_metrics(
        self, make_app: Any, caller: Any, tokens: TokenFactory
    ) -> None:
        app = make_app()
        c = caller(app, _address())
        for _ in range(7):
            await c.get(ME, headers=bad(tokens))
        await c.get(ME)
        text = (await c.get("/metrics")).text
        assert 'casecoord_auth_refusals_total{reason="signature",status="401"} 5.0' in text
        assert 'casecoord_auth_refusals_total{reason="signature",status="429"} 2.0' in text
        assert 'casecoord_auth_refusals_total{reason="no_token",status="429"} 1.0' in text
        assert 'casecoord_auth_throttled_total{kind="address"} 3.0' in text


@pytest.mark.skipif(not REDIS_URL, reason="CASECOORD_TEST_REDIS_URL is not set")
class TestRedisSharedStore:
    async def test_two_app_instances_share_one_limit(
        self, make_app: Any, caller: Any, tokens: TokenFactory
    ) -> None:
        one = make_app(rate_limit_storage=REDIS_URL)
        two = make_app(rate_limit_storage=REDIS_URL)
        address = _address()
        for _ in range(3):
            assert (await caller(one, address).get(ME, headers=bad(tokens))).status_code == 401
        for _ in range(2):
            assert (await caller(two, address).get(ME, headers=bad(tokens))).status_code == 401
        # the sixth failure, counted across both processes
        r = await caller(one, address).get(ME, headers=bad(tokens))
        assert_problem(r, 429)
        assert_problem(await caller(two, address).get(ME, headers=bad(tokens)), 429)
        # an address that only the other instance saw is still fresh
        assert (await caller(two, _address()).get(ME, headers=bad(tokens))).status_code == 401

"""Real concurrency, on real separate connections and commits (SQLite and PostgreSQL).

These tests build their own app on the test database instead of the rolled-back
``client``: what they create stays committed, so every id is unique and nothing
is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.cases import service as case_service
from app.directory.models import Organisation, Team, TeamMembership, User
from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database, utcnow
from tests.world import ISSUER, TokenFactory


class Live:
    def __init__(self, app: Any, db: Database, client: httpx.AsyncClient) -> None:
        self.app, self.db, self.client = app, db, client

    async def police_in_a_marak_team(self, tokens: TokenFactory) -> tuple[dict[str, str], Team]:
        tag = uuid.uuid4().hex[:10]
        async with self.db.sessionmaker() as session, session.begin():
            org = Organisation(code=f"conc-{tag}", name="Concurrency test", kind="police")
            session.add(org)
            await session.flush()
            team = Team(
                name=f"Concurrency {tag}", kind="marak", organisation_id=org.id, area="Test"
            )
            user = User(
                issuer=ISSUER,
                subject=f"conc-{tag}",
                name=f"Test conc-{tag}",
                organisation_id=org.id,
                roles=["police"],
                last_seen_at=utcnow(),
            )
            session.add_all([team, user])
            await session.flush()
            session.add(TeamMembership(team_id=team.id, user_id=user.id))
        token = tokens.mint(f"conc-{tag}", ["police"], org.code)
        return {"Authorization": f"Bearer {token}"}, team


@pytest.fixture
async def live(settings: Settings, database_url: str) -> AsyncIterator[Live]:
    db = Database.from_url(database_url)
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Live(app, db, client)
    await db.dispose()


async def test_twenty_concurrent_patches_with_one_etag_leave_one_winner(
    live: Live, tokens: TokenFactory
) -> None:
    headers, team = await live.police_in_a_marak_team(tokens)
    r = await live.client.post("/api/v1/cases", json={"team_id": str(team.id)}, headers=headers)
    assert r.status_code == 201, r.text
    case_id, etag = r.json()["id"], r.headers["etag"]

    async def patch(i: int) -> httpx.Response:
        return await live.client.patch(
            f"/api/v1/cases/{case_id}",
            json={"summary": f"Writer {i}"},
            headers={**headers, "If-Match": etag},
        )

    responses = await asyncio.gather(*(patch(i) for i in range(20)))
    counts = Counter(r.status_code for r in responses)
    assert counts == {200: 1, 412: 19}, [(r.status_code, r.text[:120]) for r in responses]
    assert all(
        r.headers["content-type"] == "application/problem+json"
        for r in responses
        if r.status_code == 412
    )
    winner = next(r for r in responses if r.status_code == 200)
    final = await live.client.get(f"/api/v1/cases/{case_id}", headers=headers)
    assert final.json()["summary"] == winner.json()["summary"]
    assert final.json()["version"] == int(etag.strip('"')) + 1


async def test_a_replay_while_the_first_request_runs_never_creates_twice(
    live: Live, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL answers 409 at once; SQLite queues the replay behind the first
    request's write lock and then replays it (a re-read of what it created)."""
    headers, team = await live.police_in_a_marak_team(tokens)
    headers = {**headers, "Idempotency-Key": f"inflight-{uuid.uuid4().hex}"}
    entered, release = asyncio.Event(), asyncio.Event()
    original = case_service.create_case

    async def slow_create(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(case_service, "create_case", slow_create)
    body = {"team_id": str(team.id)}
    first = asyncio.create_task(live.client.post("/api/v1/cases", json=body, headers=headers))
    await asyncio.wait_for(entered.wait(), 10)
    second = asyncio.create_task(live.client.post("/api/v1/cases", json=body, headers=headers))
    postgres = live.db.engine is not None and live.db.engine.dialect.name == "postgresql"
    if postgres:
        r2 = await asyncio.wait_for(second, 10)
        assert r2.status_code == 409, r2.text
        assert r2.headers["retry-after"] == "1"
        release.set()
    else:
        await asyncio.sleep(0.3)
        assert not second.done()
        release.set()
        r2 = await asyncio.wait_for(second, 15)
    r1 = await asyncio.wait_for(first, 15)
    assert r1.status_code == 201, r1.text
    r3 = await live.client.post("/api/v1/cases", json=body, headers=headers)
    assert r3.status_code == 201 and r3.json()["id"] == r1.json()["id"]
    assert r3.headers["idempotent-replayed"] == "true"
    if not postgres:
        assert r2.status_code == 201 and r2.json()["id"] == r1.json()["id"]
    listed = await live.client.get(
        "/api/v1/cases", headers={"Authorization": headers["Authorization"]}
    )
    assert len(listed.json()["items"]) == 1

from __future__ import annotations

from typing import Any

import httpx


class TestGetMe:
    async def test_valid_token_gets_200_and_registers_user(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("police", "coordinator", org="poliisi-x")
        r = await client.get("/api/v1/me", headers=actor.headers)
        assert r.status_code == 200
        body = r.json()
        assert body["organisation"]["code"] == "poliisi-x"
        assert body["roles"] == ["coordinator", "police"]
        assert body["teams"] == []

    async def test_no_token_gets_401_problem(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/me")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")

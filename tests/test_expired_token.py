"""An expired token's 401 says that it expired, and nothing else about it."""

from __future__ import annotations

import time

import httpx

from tests.conftest import TokenFactory
from tests.problems import assert_problem

ME = "/api/v1/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_expired_token_gets_401_that_says_it_expired(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    now = int(time.time())
    token = tokens.mint("expiry-1", iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    r = await client.get(ME, headers=_bearer(token))
    body = assert_problem(r, 401)
    assert body["detail"] == "The bearer token has expired; obtain a new one."
    assert r.headers["www-authenticate"].startswith("Bearer")
    # No claim, time or subject of the token is echoed.
    assert token not in r.text
    assert "expiry-1" not in r.text and str(now - 3600) not in r.text
    assert set(body) == {"type", "title", "status", "detail", "instance"}


async def test_expired_forgery_is_not_told_it_expired(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """Expiry is checked after the signature: an expired token with a bad signature
    is refused like any forgery, so the message is no oracle."""
    now = int(time.time())
    token = tokens.mint("expiry-2", iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    body = assert_problem(await client.get(ME, headers=_bearer(forged)), 401)
    assert body["detail"] == "The bearer token was rejected."


async def test_token_from_an_untrusted_key_says_so(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """E.g. a `casecoord token` development token sent to a server started without
    --demo: the trusted keys are public (the JWKS), so naming the cause leaks nothing."""
    token = tokens.encode(tokens.claims("expiry-3", ["police"], "org-a"), headers={"kid": "other"})
    body = assert_problem(await client.get(ME, headers=_bearer(token)), 401)
    assert body["detail"] == "The bearer token is signed with a key this server does not trust."

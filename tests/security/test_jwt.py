"""The JWT attack table: every forged, stale or malformed token gets 401 problem+json.

Tokens are minted with PyJWT, or built by hand where PyJWT (rightly) refuses to
produce them, so the server's python-jose is tested against an independent
implementation. Each refusal is also checked against the denial audit row, so a
case passes only when it is refused for the reason it was built to trigger.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from tests.problems import assert_problem
from tests.routes import api_routes, declared_actions
from tests.security.claim_forgeries import CLAIM_ATTACKS
from tests.world import KID, TokenFactory

ME = "/api/v1/me"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _sub() -> str:
    return f"jwt-{uuid.uuid4().hex[:10]}"


# --- the forgeries -------------------------------------------------------------


def expired(t: TokenFactory) -> str:
    now = int(time.time())
    return t.encode(
        t.claims(_sub(), ["police"], "org-a", iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    )


def not_yet_valid(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", nbf=int(time.time()) + 3600))


def without_exp(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", exp=None))


def without_aud(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", aud=None))


def wrong_aud(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", aud="some-other-api"))


def wrong_iss(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", iss="https://evil.invalid/realm"))


def without_iss(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", iss=None))


def without_iat(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a", iat=None))


def without_sub(t: TokenFactory) -> str:
    claims = t.claims(_sub(), ["police"], "org-a")
    del claims["sub"]
    return t.encode(claims)


def alg_none(t: TokenFactory) -> str:
    header = b64url_json({"alg": "none", "typ": "JWT", "kid": KID})
    return f"{header}.{b64url_json(t.claims(_sub(), ['admin'], 'org-a'))}."


def hs256_with_public_key(t: TokenFactory) -> str:
    """The RS256 -> HS256 confusion: the public key PEM used as the HMAC secret."""
    public_pem = t.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}."
        f"{b64url_json(t.claims(_sub(), ['admin'], 'org-a'))}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unknown_kid(t: TokenFactory) -> str:
    return t.encode(t.claims(_sub(), ["police"], "org-a"), headers={"kid": "no-such-key"})


def without_kid(t: TokenFactory) -> str:
    return jwt.encode(t.claims(_sub(), ["police"], "org-a"), t.key, algorithm="RS256")


def tampered_payload(t: TokenFactory) -> str:
    header, payload, signature = t.mint(_sub(), ["police"]).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["roles"] = ["admin", "auditor"]
    return f"{header}.{b64url_json(claims)}.{signature}"


def oversized(t: TokenFactory) -> str:
    token = t.encode(t.claims(_sub(), ["police"], "org-a", padding="x" * 8192))
    assert len(token) > 8 * 1024
    return token


def jwe_shaped(t: TokenFactory) -> str:
    header = b64url_json({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": KID})
    return ".".join(
        [header, b64url(b"k" * 32), b64url(b"iv" * 6), b64url(b"c" * 40), b64url(b"t" * 16)]
    )


# An attacker key that the server has never seen.
_ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _attacker_jwk() -> dict[str, Any]:
    public: dict[str, Any] = json.loads(
        jwt.algorithms.RSAAlgorithm.to_jwk(_ATTACKER_KEY.public_key())
    )
    return public


def embedded_jwk_pinned_kid(t: TokenFactory) -> str:
    """Signed by the attacker, carrying the attacker's key in ``jwk``, with our kid."""
    return t.encode(
        t.claims(_sub(), ["admin"], "org-a"),
        headers={"jwk": _attacker_jwk()},
        key=_ATTACKER_KEY,
    )


def embedded_jwk_own_kid(t: TokenFactory) -> str:
    """The attacker names their embedded key by its own kid."""
    return t.encode(
        t.claims(_sub(), ["admin"], "org-a"),
        headers={"kid": "attacker-1", "jwk": {**_attacker_jwk(), "kid": "attacker-1"}},
        key=_ATTACKER_KEY,
    )


def jku_elsewhere(t: TokenFactory) -> str:
    return t.encode(
        t.claims(_sub(), ["admin"], "org-a"),
        headers={"kid": "attacker-1", "jku": "https://evil.invalid/jwks.json"},
        key=_ATTACKER_KEY,
    )


def x5u_elsewhere(t: TokenFactory) -> str:
    return t.encode(
        t.claims(_sub(), ["admin"], "org-a"),
        headers={"x5u": "https://evil.invalid/cert.pem"},
        key=_ATTACKER_KEY,
    )


def garbage(t: TokenFactory) -> str:
    return "not.a.jwt"


#: (forgery, the reason the server must give in its denial audit row)
ATTACKS: dict[str, tuple[Callable[[TokenFactory], str], str]] = {
    "expired": (expired, "token expired"),
    "nbf_in_future": (not_yet_valid, "claims rejected: The token is not yet valid (nbf)"),
    "no_exp": (without_exp, 'claims rejected: missing required key "exp"'),
    "no_aud": (without_aud, 'claims rejected: missing required key "aud"'),
    "wrong_aud": (wrong_aud, "claims rejected: Invalid audience"),
    "wrong_iss": (wrong_iss, "claims rejected: Invalid issuer"),
    "missing_iss": (without_iss, 'claims rejected: missing required key "iss"'),
    "missing_iat": (without_iat, 'claims rejected: missing required key "iat"'),
    "missing_sub": (without_sub, 'claims rejected: missing required key "sub"'),
    "alg_none": (alg_none, "algorithm not accepted"),
    "hs256_public_key_as_secret": (hs256_with_public_key, "algorithm not accepted"),
    "unknown_kid": (unknown_kid, "unknown signing key"),
    "no_kid": (without_kid, "token has no key id"),
    "tampered_payload": (tampered_payload, "signature rejected"),
    "over_8kb": (oversized, "token too large"),
    "jwe_5_parts": (jwe_shaped, "only signed compact JWS"),
    "embedded_jwk_with_our_kid": (embedded_jwk_pinned_kid, "signature rejected"),
    "embedded_jwk_with_its_own_kid": (embedded_jwk_own_kid, "unknown signing key"),
    "jku_pointing_elsewhere": (jku_elsewhere, "unknown signing key"),
    "x5u_pointing_elsewhere": (x5u_elsewhere, "signature rejected"),
    "garbage": (garbage, "malformed token"),
    **CLAIM_ATTACKS,
}

#: The refusals whose 401 says why (the rest share one detail).
PUBLIC_DETAIL = {
    "token expired": "The bearer token has expired; obtain a new one.",
    "unknown signing key": "The bearer token is signed with a key this server does not trust.",
}


async def refusal_tally(app: Any, db: AsyncSession) -> list[AuditEvent]:
    """Flush the app's tally of unauthenticated refusals; the auth.refused rows written."""
    before = set((await db.scalars(select(AuditEvent.id))).all())
    await app.state.auth_guard.flush(app.state.db)
    rows = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.refused"))).all()
    return [row for row in rows if row.id not in before]


class TestJwtAttackTable:
    async def test_valid_token_gets_200(
        self, client: httpx.AsyncClient, tokens: TokenFactory
    ) -> None:
        r = await client.get(ME, headers={"Authorization": f"Bearer {tokens.mint(_sub())}"})
        assert r.status_code == 200, r.text
        assert r.json()["roles"] == ["police"]

    @pytest.mark.parametrize("case", list(ATTACKS))
    async def test_forged_or_invalid_token_gets_401(
        self,
        app: Any,
        client: httpx.AsyncClient,
        tokens: TokenFactory,
        db: AsyncSession,
        case: str,
    ) -> None:
        forge, reason = ATTACKS[case]
        token = forge(tokens)
        await refusal_tally(app, db)  # start from an empty window
        r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert token not in r.text
        # Nothing is written per refusal of an unauthenticated request ...
        rows = (
            await db.scalars(
                select(AuditEvent).where(AuditEvent.request_id == r.headers["x-request-id"])
            )
        ).all()
        assert rows == []
        # ... it is tallied, refused for the intended reason, into the window's row.
        [tally] = await refusal_tally(app, db)
        assert (tally.outcome, tally.actor_id, tally.client_ip) == ("denied", None, "127.0.0.1")
        assert (tally.reason or "").startswith("1 refused in"), tally.reason
        assert f"401:{reason}" in (tally.reason or ""), tally.reason
        # Only what the holder could fix is named: expiry (checked after the
        # signature) and a key outside the public JWKS; every other forgery looks alike.
        assert body["detail"] == PUBLIC_DETAIL.get(reason, "The bearer token was rejected.")

    async def test_refused_token_registers_nobody(
        self, client: httpx.AsyncClient, tokens: TokenFactory, db: AsyncSession
    ) -> None:
        from app.directory.models import User

        sub = _sub()
        forged = tampered_payload(tokens)
        claims = json.loads(b64url_decode(forged.split(".")[1]))
        r = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        assert await db.scalar(select(User).where(User.subject == claims["sub"])) is None
        assert await db.scalar(select(User).where(User.subject == sub)) is None


class TestDirectoryRevocation:
    """A disabled user, or a token older than tokens_valid_after, is refused at once."""

    async def _admin_patch_user(
        self, client: httpx.AsyncClient, admin: Any, user_id: uuid.UUID, body: dict[str, Any]
    ) -> httpx.Response:
        current = await client.get(f"/api/v1/users/{user_id}", headers=admin.headers)
        assert current.status_code == 200, current.text
        return await client.patch(
            f"/api/v1/users/{user_id}",
            json=body,
            headers={**admin.headers, "If-Match": current.headers["etag"]},
        )

    async def test_disabled_user_gets_401(self, client: httpx.AsyncClient, make_actor: Any) -> None:
        admin = await make_actor("admin", org="ops")
        user = await make_actor("police")
        r = await self._admin_patch_user(client, admin, user.id, {"disabled": True})
        assert r.status_code == 200, r.text
        assert r.json()["disabled"] is True

        refused = await client.get(ME, headers=user.headers)
        assert_problem(refused, 401)
        assert refused.headers["www-authenticate"].startswith("Bearer")

    async def test_re_enabled_user_gets_200_again(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        admin = await make_actor("admin", org="ops")
        user = await make_actor("police")
        assert (
            await self._admin_patch_user(client, admin, user.id, {"disabled": True})
        ).status_code == 200
        assert (await client.get(ME, headers=user.headers)).status_code == 401
        assert (
            await self._admin_patch_user(client, admin, user.id, {"disabled": False})
        ).status_code == 200
        assert (await client.get(ME, headers=user.headers)).status_code == 200

    async def test_token_issued_before_tokens_valid_after_gets_401(
        self, client: httpx.AsyncClient, make_actor: Any, tokens: TokenFactory
    ) -> None:
        admin = await make_actor("admin", org="ops")
        user = await make_actor("police")
        now = int(time.time())
        old = tokens.mint(user.sub, ["police"], user.org.code, iat=now - 120, nbf=now - 120)
        assert (await client.get(ME, headers={"Authorization": f"Bearer {old}"})).status_code == 200

        cutoff = datetime.now(UTC) - timedelta(seconds=60)
        r = await self._admin_patch_user(
            client, admin, user.id, {"tokens_valid_after": cutoff.isoformat()}
        )
        assert r.status_code == 200, r.text

        refused = await client.get(ME, headers={"Authorization": f"Bearer {old}"})
        assert_problem(refused, 401)
        assert refused.headers["www-authenticate"].startswith("Bearer")

        fresh = tokens.mint(user.sub, ["police"], user.org.code, iat=now, nbf=now)
        ok = await client.get(ME, headers={"Authorization": f"Bearer {fresh}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["id"] == str(user.id)


class TestEveryRouteNeedsAToken:
    async def test_anonymous_call_to_any_non_public_route_gets_401(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        checked = 0
        for route in api_routes(app):
            if any(a.startswith("public:") for a in declared_actions(route.dependant)):
                continue
            path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)
            for method in sorted(route.methods - {"HEAD"}):
                r = await client.request(method, path)
                assert r.status_code == 401, f"{method} {route.path}: {r.status_code}"
                assert r.headers["www-authenticate"].startswith("Bearer")
                checked += 1
        assert checked > 10

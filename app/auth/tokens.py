"""Bearer-token verification. The ONE module that imports python-jose.

Rules (each one closes a known attack):
- the key is chosen by ``kid`` from a pinned JWKS (file or https URL), never
  from ``jku``/``x5u``/``jwk`` headers in the token;
- exactly one asymmetric algorithm family is accepted (no ``none``, no HS*);
- ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required. python-jose
  accepts a token without ``aud`` even when an audience is configured unless
  ``require_aud`` is set, so it is;
- tokens over 8 KB and 5-part JWE tokens are refused before parsing.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWSError, JWTClaimsError

from app.config import DEV_KEY_ID_PREFIX, Settings

MAX_TOKEN_BYTES = 8 * 1024
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
LEEWAY_SECONDS = 30


class TokenError(Exception):
    """The token was refused; the message is safe to show the caller."""


@dataclass(frozen=True)
class VerifiedClaims:
    claims: dict[str, Any]
    kid: str


class KeySet:
    """The pinned verification keys, loaded from a file or fetched over https and cached.

    Fetches are rate-limited whatever triggers them (a stale cache, an unknown
    ``kid`` after an IdP key rotation): at most one attempt per
    ``REFRESH_INTERVAL``. Without that, a flood of made-up kids, or an
    unreachable IdP once the cache is stale, would turn every request into a
    fetch. Keys already loaded stay in use while a refresh fails.
    """

    REFRESH_INTERVAL = 30.0

    def __init__(
        self,
        settings: Settings,
        source: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._source = source
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._loaded_at: float | None = None
        self._last_refresh_attempt: float | None = None

    @property
    def source(self) -> str | None:
        return self._source

    def _load(self) -> None:
        if not self._source:
            self._keys = {}
            return
        if self._source.startswith("https://"):
            response = httpx.get(self._source, timeout=5.0)
            response.raise_for_status()
            document = response.json()
        else:
            document = json.loads(Path(self._source).read_text(encoding="utf-8"))
        keys: dict[str, dict[str, Any]] = {}
        for entry in document.get("keys", []):
            kid = entry.get("kid")
            if not kid or entry.get("use", "sig") != "sig":
                continue
            if self._settings.env == "production" and str(kid).startswith(DEV_KEY_ID_PREFIX):
                # The development key must never authenticate anyone in production.
                continue
            public = {k: v for k, v in entry.items() if k not in {"d", "p", "q", "dp", "dq", "qi"}}
            keys[str(kid)] = public
        self._keys = keys
        self._loaded_at = self._clock()

    def get(self, kid: str) -> dict[str, Any] | None:
        now = self._clock()
        stale = (
            self._loaded_at is None
            or now - self._loaded_at > self._settings.oidc_jwks_cache_seconds
        )
        if stale or kid not in self._keys:
            due = (
                self._last_refresh_attempt is None
                or now - self._last_refresh_attempt >= self.REFRESH_INTERVAL
            )
            if due:
                self._last_refresh_attempt = now
                try:
                    self._load()
                except (OSError, ValueError, httpx.HTTPError):
                    pass
        return self._keys.get(kid)


def _reason(exc: JOSEError) -> str:
    """Why python-jose refused the token, for the denial's audit row (never the caller).

    Only fixed texts: jose's claim messages name the claim, never its value.
    """
    if isinstance(exc, ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, JWTClaimsError):
        return f"claims rejected: {str(exc)[:100]}"
    if exc.args and isinstance(exc.args[0], JWSError):
        return "signature rejected"
    if str(exc).startswith("missing required key"):
        return f"claims rejected: {str(exc)[:100]}"
    return "token rejected"


def verify(token: str, keyset: KeySet, settings: Settings) -> VerifiedClaims:
    """Verify a compact JWS and return its claims, or raise :class:`TokenError`."""
    if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise TokenError("token too large")
    if token.count(".") != 2:
        raise TokenError("only signed compact JWS tokens are accepted")
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise TokenError("malformed token") from exc
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in settings.oidc_algorithms:
        raise TokenError("algorithm not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token has no key id")
    key = keyset.get(kid)
    if key is None:
        raise TokenError("unknown signing key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            options={
                "verify_signature": True,
                "verify_aud": True,
                "verify_iat": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iss": True,
                "verify_sub": True,
                "require_aud": True,
                "require_iat": True,
                "require_exp": True,
                "require_iss": True,
                "require_sub": True,
                "leeway": LEEWAY_SECONDS,
            },
        )
    except JOSEError as exc:
        raise TokenError(_reason(exc)) from exc
    for claim in REQUIRED_CLAIMS:
        if claim not in claims:
            raise TokenError(f"token lacks '{claim}'")
    if not isinstance(claims.get("iat"), int | float):
        raise TokenError("token 'iat' is not a number")
    return VerifiedClaims(claims=claims, kid=kid)


# --- development keys -------------------------------------------------------


def ensure_dev_key(settings: Settings) -> Path:
    """Create (once) a local RSA signing key and its JWKS in the data folder."""
    if settings.env == "production":
        raise RuntimeError("the development signing key is refused in production")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pem_path, jwks_path = settings.dev_private_key_path, settings.dev_jwks_path
    if not pem_path.exists() or not jwks_path.exists():
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem_path.write_bytes(pem)
        pem_path.chmod(0o600)
        public_jwk = jwk.construct(pem.decode(), algorithm="RS256").public_key().to_dict()
        public_jwk.update({"kid": DEV_KEY_ID_PREFIX + secrets.token_hex(4), "use": "sig"})
        public_jwk["alg"] = "RS256"
        jwks_path.write_text(json.dumps({"keys": [public_jwk]}, indent=2), encoding="utf-8")
    return jwks_path


def mint_dev_token(settings: Settings, claims: dict[str, Any], ttl_seconds: int = 8 * 3600) -> str:
    """Sign a token with the local development key (refused in production)."""
    if settings.env == "production":
        raise RuntimeError("development tokens are refused in production")
    jwks_path = ensure_dev_key(settings)
    kid = json.loads(jwks_path.read_text(encoding="utf-8"))["keys"][0]["kid"]
    now = int(time.time())
    body = {
        "iss": settings.oidc_issuer,
        "aud": settings.oidc_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        **claims,
    }
    pem = settings.dev_private_key_path.read_text(encoding="utf-8")
    return str(jwt.encode(body, pem, algorithm="RS256", headers={"kid": kid}))

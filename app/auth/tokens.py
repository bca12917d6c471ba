"""Bearer-token verification. The ONE module that imports python-jose.

Rules (each one closes a known attack):
- the key is chosen by ``kid`` from a pinned JWKS (file or https URL), never
  from ``jku``/``x5u``/``jwk`` headers in the token;
- exactly one asymmetric algorithm family is accepted (no ``none``, no HS*);
- ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required. python-jose
  accepts a token without ``aud`` even when an audience is configured unless
  ``require_aud`` is set, so it is;
- tokens over 8 KB and 5-part JWE tokens are refused before parsing;
- every claim the service reads is checked here, once, after the signature:
  times are finite numbers (never booleans) within a sane range, ``iat`` is not
  in the future, and every string is bounded and free of NUL, control
  characters and lone surrogates (which PostgreSQL and UTF-8 refuse, and which
  used to surface as 500s). The directory then trusts :class:`VerifiedClaims`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWSError, JWTClaimsError

from app.platform.config import DEV_KEY_ID_PREFIX, Settings

MAX_TOKEN_BYTES = 8 * 1024
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
LEEWAY_SECONDS = 30
#: Times beyond 9999-12-31 cannot be a datetime; 1e20 or 1e400 are refused, not 500s.
MAX_TIMESTAMP = 253_402_300_799
ORG_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MAX_ROLES = 20
#: (claim, longest accepted length) of the string claims the service reads.
STRING_CLAIMS = {"sub": 255, "iss": 300, "name": 200, "org": 64, "org_name": 200, "scope": 2000}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TokenError(Exception):
    """The token was refused. The message is the reason for the denial's audit row;
    ``public`` is what the caller is told (the same for every forgery)."""

    public = "The bearer token was rejected."


class TokenExpired(TokenError):
    """A correctly signed token past its ``exp``: saying so helps the holder and tells
    a forger nothing (the signature is checked before the expiry)."""

    public = "The bearer token has expired; obtain a new one."


class UntrustedKey(TokenError):
    """The ``kid`` is not in the trusted key set. That set is public (the JWKS), so
    saying so reveals nothing, and it explains a development token sent to a server
    that does not trust the development key."""

    public = "The bearer token is signed with a key this server does not trust."


@dataclass(frozen=True)
class VerifiedClaims:
    """A verified token's claims, each checked for type, range and characters."""

    claims: dict[str, Any]
    kid: str
    subject: str = ""
    issuer: str = ""
    org: str = ""
    name: str | None = None
    org_name: str | None = None
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)
    issued_at: datetime = EPOCH


def _clean_text(value: str) -> bool:
    """No NUL, control characters or lone surrogates."""
    return not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value)


def _claim(claims: dict[str, Any], name: str, required: bool) -> Any:
    """The claim ``name``, None when absent (a required one must be present)."""
    value = claims.get(name)
    if value is None and required:
        raise TokenError(f"token lacks '{name}'")
    return value


def _time_claim(claims: dict[str, Any], name: str, required: bool) -> float | None:
    value = _claim(claims, name, required)
    if value is None:
        return None
    # bool is an int subclass: True must not pass as the time 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"bad claim {name}: not a number")
    if not math.isfinite(value) or not 0 <= value <= MAX_TIMESTAMP:
        raise TokenError(f"bad claim {name}: out of range")
    return float(value)


def _string_claim(claims: dict[str, Any], name: str, required: bool) -> str | None:
    value = _claim(claims, name, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenError(f"bad claim {name}: not a string")
    value = value.strip()
    if not value and required:
        raise TokenError(f"bad claim {name}: empty")
    if len(value) > STRING_CLAIMS[name] or not _clean_text(value):
        raise TokenError(f"bad claim {name}: too long or bad characters")
    return value or None


def check_claims(claims: dict[str, Any], kid: str, now: float | None = None) -> VerifiedClaims:
    """Every claim the service reads, checked in one place (after the signature)."""
    now = time.time() if now is None else now
    for name in ("exp", "nbf"):
        _time_claim(claims, name, required=name == "exp")
    iat = _time_claim(claims, "iat", required=True)
    assert iat is not None
    if iat > now + LEEWAY_SECONDS:
        # A future iat would outlive any tokens_valid_after revocation.
        raise TokenError("bad claim iat: in the future")
    subject = _string_claim(claims, "sub", required=True)
    issuer = _string_claim(claims, "iss", required=True)
    org = _string_claim(claims, "org", required=True)
    assert subject and issuer and org
    if not ORG_CODE.match(org):
        raise TokenError("bad claim org: not an organisation code")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or len(roles) > MAX_ROLES:
        raise TokenError("bad claim roles: not a short list")
    for role in roles:
        if not isinstance(role, str) or len(role) > 64 or not _clean_text(role):
            raise TokenError("bad claim roles: not a list of strings")
    scope = _string_claim(claims, "scope", required=False) or ""
    return VerifiedClaims(
        claims=claims,
        kid=kid,
        subject=subject,
        issuer=issuer,
        org=org,
        name=_string_claim(claims, "name", required=False),
        org_name=_string_claim(claims, "org_name", required=False),
        roles=tuple(roles),
        scopes=frozenset(scope.split()),
        issued_at=datetime.fromtimestamp(iat, tz=UTC),
    )


class KeySet:
    """The pinned verification keys, loaded from a file or fetched over https and cached.

    Fetches are rate-limited whatever triggers them (a stale cache, an unknown
    ``kid`` after an IdP key rotation): at most one attempt per
    ``REFRESH_INTERVAL``. Without that, a flood of made-up kids, or an
    unreachable IdP once the cache is stale, would turn every request into a
    fetch. Keys already loaded stay in use while a refresh fails.
    """

    REFRESH_INTERVAL = 30.0
    #: Verified tokens remembered (a client reuses its token for minutes; an
    #: RSA verify and jose's claim checks were ~5% of an authorised read's CPU).
    VERIFIED_CACHE_SIZE = 4096

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
        # (kid, alg) -> (the JWK it was built from, jose's key object): parsing a
        # JWK into a key was a tenth of the token check's CPU on every request.
        self._prepared: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {}
        # SHA-256 of the token -> (the key object and the settings that verified
        # it, its claims): see recall(). The cache keeps no bearer credential.
        self._verified: dict[bytes, tuple[Any, Settings, VerifiedClaims]] = {}
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

    def answers_locally(self, token: str) -> bool:
        """Would :meth:`get` for this token's ``kid`` be answered without a network
        fetch? Then verification is pure CPU (~0.1 ms) and may run inline on the
        event loop instead of hopping to the thread pool."""
        if not self._source or not self._source.startswith("https://"):
            return True  # no keys, or a local file
        if self._loaded_at is None:
            return False
        if self._clock() - self._loaded_at > self._settings.oidc_jwks_cache_seconds:
            return False
        try:
            header = json.loads(base64.urlsafe_b64decode(token.split(".", 1)[0] + "=="))
        except (ValueError, UnicodeDecodeError):
            return True  # verify() refuses it without looking a key up
        kid = header.get("kid") if isinstance(header, dict) else None
        return not isinstance(kid, str) or kid in self._keys

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

    def prepared(self, kid: str, alg: str) -> Any | None:
        """:meth:`get`'s key as a jose key object for ``alg``, built once per JWK.

        Built again whenever the JWK for ``kid`` changes (a reload gives a new
        dict), so a rotated or withdrawn key is never served from here.
        """
        public = self.get(kid)
        if public is None:
            return None
        cached = self._prepared.get((kid, alg))
        if cached is not None and cached[0] is public:
            return cached[1]
        key = jwk.construct(public, alg)
        self._prepared[(kid, alg)] = (public, key)
        return key

    def recall(self, token: str, key: Any, settings: Settings) -> VerifiedClaims | None:
        """The claims of this exact token string, if it was verified before by this
        very key object and has not expired since.

        Sound because the check is a pure function of the token's bytes, the key
        and the settings (the very same objects are required), except for time:
        ``exp`` is checked again here exactly as jose checks it, and
        ``nbf``/``iat`` only become more valid as time passes. A rotated or
        withdrawn key is a new (or no) key object from :meth:`prepared`, so its
        tokens miss. Revocation
        (``tokens_valid_after``, a disabled user) is the directory's check on
        every request and is not cached here.
        """
        digest = _digest(token)
        hit = self._verified.get(digest)
        if hit is None or hit[0] is not key or hit[1] is not settings:
            return None
        exp = hit[2].claims["exp"]
        if exp < time.time() - LEEWAY_SECONDS:
            self._verified.pop(digest, None)
            return None
        return hit[2]

    def remember(self, token: str, key: Any, settings: Settings, verified: VerifiedClaims) -> None:
        if len(self._verified) >= self.VERIFIED_CACHE_SIZE:
            # Drop the oldest entry (dicts keep insertion order). verify() may also
            # run in a worker thread (a JWKS fetch), hence the tolerant pop.
            try:
                self._verified.pop(next(iter(self._verified)), None)
            except (StopIteration, RuntimeError):
                pass
        self._verified[_digest(token)] = (key, settings, verified)


def _digest(token: str) -> bytes:
    """What the verified-token cache keys on: a memory dump shows no usable token."""
    return hashlib.sha256(token.encode()).digest()


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
    try:
        key = keyset.prepared(kid, alg)
    except JOSEError as exc:  # a JWK that is not a key for this algorithm
        raise TokenError("token rejected") from exc
    if key is None:
        raise UntrustedKey("unknown signing key")
    remembered = keyset.recall(token, key, settings)
    if remembered is not None:
        return remembered
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
    except ExpiredSignatureError as exc:
        raise TokenExpired(_reason(exc)) from exc
    except JOSEError as exc:
        raise TokenError(_reason(exc)) from exc
    except (OverflowError, ValueError, TypeError) as exc:
        # jose does int(exp): Infinity, NaN and 1e400 (parsed as inf) end up here.
        raise TokenError("bad claim: a time is not a finite number") from exc
    if not isinstance(claims, dict):
        raise TokenError("malformed token")
    for claim in REQUIRED_CLAIMS:
        if claim not in claims:
            raise TokenError(f"token lacks '{claim}'")
    verified = check_claims(claims, kid)
    keyset.remember(token, key, settings, verified)
    return verified

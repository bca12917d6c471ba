"""The JWKS key set: keys rotate in, and a dead or flooded JWKS source is not hammered."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.tokens import KeySet, TokenError, verify
from app.platform.config import Settings
from tests.world import AUDIENCE, ISSUER, KID, TokenFactory

#: A second key, as an identity provider would rotate in (or an attacker would name).
_NEXT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _write_jwks(path: Path, *keys: tuple[str, rsa.RSAPrivateKey]) -> None:
    entries = []
    for kid, key in keys:
        entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        entries.append({**entry, "kid": kid, "use": "sig", "alg": "RS256"})
    path.write_text(json.dumps({"keys": entries}), encoding="utf-8")


class TestKeySetRefresh:
    """Keys rotate in; a dead or flooded JWKS source is not hammered."""

    def test_rotated_key_is_picked_up_after_the_refresh_interval(
        self, tmp_path: Path, signing_key: rsa.RSAPrivateKey
    ) -> None:
        path, clock = tmp_path / "jwks.json", FakeClock()
        _write_jwks(path, ("old", signing_key))
        keyset = KeySet(Settings(oidc_jwks=str(path)), str(path), clock=clock)
        assert keyset.get("old") is not None

        _write_jwks(path, ("old", signing_key), ("new", _NEXT_KEY))
        clock.now += 1
        assert keyset.get("new") is None  # too soon to fetch again
        clock.now += KeySet.REFRESH_INTERVAL
        assert keyset.get("new") is not None

    def test_unknown_kids_do_not_trigger_a_fetch_each(
        self, tmp_path: Path, signing_key: rsa.RSAPrivateKey
    ) -> None:
        path, clock = tmp_path / "jwks.json", FakeClock()
        _write_jwks(path, ("k1", signing_key))
        keyset = KeySet(Settings(oidc_jwks=str(path)), str(path), clock=clock)
        assert keyset.get("k1") is not None
        clock.now += KeySet.REFRESH_INTERVAL + 1
        assert keyset.get("forged-1") is None  # one fetch, now rate-limited
        _write_jwks(path, ("k1", signing_key), ("forged-2", _NEXT_KEY))
        clock.now += 1
        assert keyset.get("forged-2") is None

    def test_stale_cache_with_unreachable_source_keeps_keys_and_backs_off(
        self, tmp_path: Path, signing_key: rsa.RSAPrivateKey
    ) -> None:
        path, clock = tmp_path / "jwks.json", FakeClock()
        _write_jwks(path, ("k1", signing_key))
        keyset = KeySet(
            Settings(oidc_jwks=str(path), oidc_jwks_cache_seconds=60), str(path), clock=clock
        )
        assert keyset.get("k1") is not None

        path.unlink()  # the IdP is down
        clock.now += 61  # and the cache is stale
        assert keyset.get("k1") is not None  # the last good keys stay in use

        _write_jwks(path, ("k1", signing_key), ("k2", _NEXT_KEY))
        clock.now += 1
        # A stale cache alone must not mean a fetch on every request.
        assert keyset.get("k2") is None
        clock.now += KeySet.REFRESH_INTERVAL
        assert keyset.get("k2") is not None


class TestPreparedKeys:
    """The parsed key is built once per JWK, and never outlives its JWK."""

    def test_a_key_is_parsed_once_and_again_when_its_jwk_changes(
        self, tmp_path: Path, signing_key: rsa.RSAPrivateKey, tokens: TokenFactory
    ) -> None:
        path, clock = tmp_path / "jwks.json", FakeClock()
        _write_jwks(path, (KID, signing_key))
        settings = Settings(
            oidc_jwks=str(path),
            oidc_issuer=ISSUER,
            oidc_audience=AUDIENCE,
            oidc_jwks_cache_seconds=60,
        )
        keyset = KeySet(settings, str(path), clock=clock)
        first = keyset.prepared(KID, "RS256")
        assert first is not None and keyset.prepared(KID, "RS256") is first
        token = tokens.mint("prepared-key-user", ["police"], "org-a")
        assert verify(token, keyset, settings).subject == "prepared-key-user"

        # The identity provider replaces the key behind the same kid.
        _write_jwks(path, (KID, _NEXT_KEY))
        clock.now += 61
        replaced = keyset.prepared(KID, "RS256")
        assert replaced is not None and replaced is not first
        with pytest.raises(TokenError):
            verify(token, keyset, settings)  # signed by the withdrawn key

    def test_a_withdrawn_kid_has_no_prepared_key(
        self, tmp_path: Path, signing_key: rsa.RSAPrivateKey
    ) -> None:
        path, clock = tmp_path / "jwks.json", FakeClock()
        _write_jwks(path, ("k1", signing_key), ("k2", _NEXT_KEY))
        keyset = KeySet(
            Settings(oidc_jwks=str(path), oidc_jwks_cache_seconds=60), str(path), clock=clock
        )
        assert keyset.prepared("k2", "RS256") is not None
        _write_jwks(path, ("k1", signing_key))
        clock.now += 61
        assert keyset.get("k1") is not None  # the reload
        assert keyset.prepared("k2", "RS256") is None

"""The JWKS key set: keys rotate in, and a dead or flooded JWKS source is not hammered."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.tokens import KeySet
from app.platform.config import Settings

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

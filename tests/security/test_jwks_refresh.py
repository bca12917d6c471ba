"""The JWKS key set: keys rotate in, and a dead or flooded JWKS source is not hammered."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth import tokens as tokens_module
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


class TestVerifiedTokens:
    """A verified token is remembered by its exact bytes and key, never past its exp."""

    def _keyset(self, tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> tuple[KeySet, Settings]:
        path = tmp_path / "jwks.json"
        _write_jwks(path, (KID, signing_key))
        settings = Settings(oidc_jwks=str(path), oidc_issuer=ISSUER, oidc_audience=AUDIENCE)
        return KeySet(settings, str(path), clock=FakeClock()), settings

    def test_a_repeated_token_skips_the_signature_check(
        self,
        tmp_path: Path,
        signing_key: rsa.RSAPrivateKey,
        tokens: TokenFactory,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        keyset, settings = self._keyset(tmp_path, signing_key)
        token = tokens.mint("cached-user", ["police"], "org-a")
        first = verify(token, keyset, settings)

        def no_decode(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("jose was asked again")

        monkeypatch.setattr(tokens_module.jwt, "decode", no_decode)
        assert verify(token, keyset, settings) is first

    def test_a_tampered_copy_is_not_served_from_memory(
        self, tmp_path: Path, signing_key: rsa.RSAPrivateKey, tokens: TokenFactory
    ) -> None:
        keyset, settings = self._keyset(tmp_path, signing_key)
        token = tokens.mint("cached-user", ["police"], "org-a")
        verify(token, keyset, settings)
        head, body, signature = token.split(".")
        forged_body = tokens.encode(tokens.claims("cached-user", ["admin"], "org-a")).split(".")[1]
        with pytest.raises(TokenError):
            verify(f"{head}.{forged_body}.{signature}", keyset, settings)
        flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
        with pytest.raises(TokenError):
            verify(f"{head}.{body}.{flipped}", keyset, settings)

    def test_a_remembered_token_expires(
        self,
        tmp_path: Path,
        signing_key: rsa.RSAPrivateKey,
        tokens: TokenFactory,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        keyset, settings = self._keyset(tmp_path, signing_key)
        token = tokens.mint("cached-user", ["police"], "org-a")
        verified = verify(token, keyset, settings)
        key = keyset.prepared(KID, "RS256")
        assert keyset.recall(token, key, settings) is verified
        assert keyset.recall(token, object(), settings) is None  # another key: never served
        other = settings.model_copy(update={"oidc_audience": "someone-else"})
        assert keyset.recall(token, key, other) is None  # other settings: never served

        exp = verified.claims["exp"]
        later = exp + tokens_module.LEEWAY_SECONDS + 1
        monkeypatch.setattr(tokens_module.time, "time", lambda: later)
        assert keyset.recall(token, key, settings) is None
        monkeypatch.undo()
        assert keyset.recall(token, key, settings) is None  # and it was forgotten

    def test_memory_is_bounded(
        self,
        tmp_path: Path,
        signing_key: rsa.RSAPrivateKey,
        tokens: TokenFactory,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        keyset, settings = self._keyset(tmp_path, signing_key)
        monkeypatch.setattr(KeySet, "VERIFIED_CACHE_SIZE", 3)
        minted = [tokens.mint(f"user-{i}", ["police"], "org-a") for i in range(5)]
        for token in minted:
            verify(token, keyset, settings)
        key = keyset.prepared(KID, "RS256")
        assert [keyset.recall(t, key, settings) is not None for t in minted] == [
            False,
            False,
            True,
            True,
            True,
        ]

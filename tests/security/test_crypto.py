"""Protected-field encryption: envelope format, binding to row and field, keys."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.dialects import sqlite

from app.persons.models import Person
from app.platform.config import Settings
from app.platform.crypto import (
    DecryptionError,
    EncryptedText,
    FieldContext,
    KeyConfigError,
    KeyRing,
    KeyRingProvider,
    Sealed,
    add_dev_primary,
    load_keyring,
    new_key_entry,
    parse_field_keys,
)

CANARY = "Kanarialintu Street 13 B, shelter room 7"


def ring(*kids: str, index: bytes = b"i" * 32) -> KeyRing:
    return KeyRing([(kid, kid.encode().ljust(32, b"#")) for kid in kids or ("k1",)], index)


def ctx(
    row: uuid.UUID | None = None, field: str = "address", table: str = "persons"
) -> FieldContext:
    return FieldContext(table, row or uuid.UUID(int=1), field)


class TestEnvelope:
    def test_round_trip(self) -> None:
        keys = ring()
        assert keys.open(keys.seal(CANARY, ctx()), ctx()) == CANARY

    def test_token_carries_version_and_key_id_and_no_plaintext(self) -> None:
        sealed = ring("primary", "old").seal(CANARY, ctx())
        version, kid, payload = sealed.token.split(".")
        assert (version, kid) == ("v1", "primary")
        assert "Kanarialintu" not in sealed.token
        assert CANARY.encode() not in base64.urlsafe_b64decode(payload + "==")
        assert repr(sealed) == "Sealed(kid='primary')"

    def test_each_seal_uses_a_fresh_nonce(self) -> None:
        keys = ring()
        assert keys.seal(CANARY, ctx()).token != keys.seal(CANARY, ctx()).token

    def test_ciphertext_moved_to_another_row_fails(self) -> None:
        keys = ring()
        sealed = keys.seal(CANARY, ctx(uuid.UUID(int=1)))
        with pytest.raises(DecryptionError):
            keys.open(sealed, ctx(uuid.UUID(int=2)))

    def test_ciphertext_moved_to_another_field_fails(self) -> None:
        keys = ring()
        sealed = keys.seal(CANARY, ctx(field="address"))
        with pytest.raises(DecryptionError):
            keys.open(sealed, ctx(field="phones"))

    def test_ciphertext_moved_to_another_table_fails(self) -> None:
        keys = ring()
        sealed = keys.seal(CANARY, ctx(table="persons"))
        with pytest.raises(DecryptionError):
            keys.open(sealed, ctx(table="person_versions"))

    def test_relabelled_key_id_fails(self) -> None:
        keys = ring("k1", "k2")
        sealed = keys.seal(CANARY, ctx())
        forged = Sealed(sealed.token.replace("v1.k1.", "v1.k2.", 1))
        with pytest.raises(DecryptionError):
            keys.open(forged, ctx())

    def test_tampered_ciphertext_fails(self) -> None:
        keys = ring()
        token = keys.seal(CANARY, ctx()).token
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        with pytest.raises(DecryptionError):
            keys.open(Sealed(flipped), ctx())

    def test_unknown_key_id_fails(self) -> None:
        sealed = ring("gone").seal(CANARY, ctx())
        with pytest.raises(DecryptionError, match="not configured"):
            ring("k1").open(sealed, ctx())

    @pytest.mark.parametrize("token", ["plain text", "v2.k1.AAAA", "v1..AAAA", "v1.k1.short"])
    def test_malformed_tokens_are_refused(self, token: str) -> None:
        with pytest.raises(DecryptionError):
            Sealed(token)

    def test_json_values_round_trip(self) -> None:
        keys = ring()
        value = {"numbers": ["+358401234567"], "safe_to_call": False}
        assert keys.open_json(keys.seal_json(value, ctx()), ctx()) == value


class TestRotation:
    def test_old_key_still_decrypts_after_a_new_primary(self) -> None:
        old = ring("k1")
        sealed = old.seal(CANARY, ctx())
        new = ring("k2", "k1")
        assert new.open(sealed, ctx()) == CANARY

    def test_reseal_moves_a_value_to_the_primary(self) -> None:
        sealed = ring("k1").seal(CANARY, ctx())
        new = ring("k2", "k1")
        moved = new.reseal(sealed, ctx())
        assert moved is not None and moved.kid == "k2"
        assert new.reseal(moved, ctx()) is None
        assert ring("k2").open(moved, ctx()) == CANARY


class TestColumnType:
    def test_plaintext_is_refused_by_the_column(self) -> None:
        column = EncryptedText()
        with pytest.raises(TypeError, match="Sealed"):
            column.process_bind_param(CANARY, sqlite.dialect())  # type: ignore[arg-type]

    def test_sealed_values_pass_through(self) -> None:
        column = EncryptedText()
        sealed = ring().seal(CANARY, ctx())
        stored = column.process_bind_param(sealed, sqlite.dialect())
        assert stored == sealed.token
        assert column.process_result_value(stored, sqlite.dialect()) == sealed

    def test_context_comes_from_the_mapped_column(self) -> None:
        person = Person(id=uuid.UUID(int=7))
        assert FieldContext.of(person, "given_name") == FieldContext(
            "persons", uuid.UUID(int=7), "given_name"
        )

    def test_context_needs_a_row_id(self) -> None:
        with pytest.raises(Exception, match="row id"):
            FieldContext.of(Person(), "given_name")


def key_text(fill: bytes) -> str:
    return base64.b64encode(fill * 32).decode()


class TestKeySettings:
    def test_parse_primary_first(self) -> None:
        keys = parse_field_keys(f"new:{key_text(b'n')}, old:{key_text(b'o')}")
        assert [kid for kid, _ in keys] == ["new", "old"]

    @pytest.mark.parametrize(
        "spec",
        [
            "",
            "no-colon",
            "k1:not base64!",
            f"k1:{base64.b64encode(b'short').decode()}",
            f"k1:{key_text(b'a')},k1:{key_text(b'b')}",
            f"bad kid:{key_text(b'a')}",
        ],
    )
    def test_malformed_field_keys_are_refused(self, spec: str) -> None:
        with pytest.raises(KeyConfigError) as info:
            KeyRing.from_spec(spec, key_text(b"i"))
        assert key_text(b"a") not in str(info.value)

    def test_short_blind_index_key_is_refused(self) -> None:
        with pytest.raises(KeyConfigError, match="blind-index"):
            KeyRing.from_spec(f"k1:{key_text(b'a')}", base64.b64encode(b"short").decode())

    def test_new_key_entry_is_accepted(self) -> None:
        KeyRing.from_spec(new_key_entry("fresh"), key_text(b"i"))

    def test_configured_keys_are_used(self, tmp_path: Path) -> None:
        settings = Settings(
            data_dir=tmp_path,
            field_keys=SecretStr(f"conf:{key_text(b'c')}"),
            blind_index_key=SecretStr(key_text(b"i")),
        )
        assert load_keyring(settings).primary_kid == "conf"
        assert not settings.dev_field_keys_path.exists()

    def test_development_generates_a_private_key_file_once(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "data")
        first = load_keyring(settings)
        path = settings.dev_field_keys_path
        assert path.stat().st_mode & 0o077 == 0
        assert load_keyring(settings).kids == first.kids
        assert first.primary_kid.startswith("dev-")
        sealed = first.seal(CANARY, ctx())
        assert load_keyring(settings).open(sealed, ctx()) == CANARY

    def test_adding_a_dev_primary_keeps_the_old_key(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path)
        before = load_keyring(settings)
        sealed = before.seal(CANARY, ctx())
        kid = add_dev_primary(settings)
        after = load_keyring(settings)
        assert after.primary_kid == kid
        assert after.kids[1:] == before.kids
        assert after.open(sealed, ctx()) == CANARY
        assert settings.dev_field_keys_path.stat().st_mode & 0o077 == 0
        document = json.loads(settings.dev_field_keys_path.read_text())
        assert document["blind_index_key"]

    def test_production_refuses_to_run_without_keys(self, tmp_path: Path) -> None:
        settings = Settings(env="production", data_dir=tmp_path, oidc_jwks=str(tmp_path / "j"))
        with pytest.raises(KeyConfigError, match="required in production"):
            load_keyring(settings)
        assert not settings.dev_field_keys_path.exists()
        with pytest.raises(KeyConfigError):
            KeyRingProvider(settings).get()

    def test_production_refuses_development_keys(self, tmp_path: Path) -> None:
        settings = Settings(
            env="production",
            data_dir=tmp_path,
            oidc_jwks=str(tmp_path / "j"),
            field_keys=SecretStr(f"dev-1234:{key_text(b'd')}"),
            blind_index_key=SecretStr(key_text(b"i")),
        )
        with pytest.raises(KeyConfigError, match="development"):
            load_keyring(settings)

    def test_production_with_keys_runs(self, tmp_path: Path) -> None:
        settings = Settings(
            env="production",
            data_dir=tmp_path,
            oidc_jwks=str(tmp_path / "j"),
            field_keys=SecretStr(f"prod1:{key_text(b'p')}"),
            blind_index_key=SecretStr(key_text(b"i")),
        )
        assert load_keyring(settings).primary_kid == "prod1"

    def test_settings_never_show_the_keys(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, field_keys=SecretStr(f"k:{key_text(b'x')}"))
        assert key_text(b"x") not in repr(settings)
        assert key_text(b"x") not in repr(load_keyring(settings.model_copy()))

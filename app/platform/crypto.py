"""Protected fields at rest: AES-256-GCM envelopes and a keyed blind index.

A sealed value is the text ``v1.<kid>.<base64url(nonce || ciphertext || tag)>``:

- ``v1`` is the format version, so a later format can be read next to this one;
- ``kid`` names the key that sealed it, so rotation can tell what is stale and
  old keys keep decrypting until every value has been re-sealed;
- the associated data binds the format, the key id, the table, the row id and
  the column. A ciphertext copied into another row or another column (a
  victim's address pasted onto a perpetrator's record, say) does not decrypt.

A SQLAlchemy type decorator cannot see which row it is binding, so it cannot
supply the row as associated data. :class:`EncryptedText` therefore only admits
:class:`Sealed` values (a plain ``str`` is refused, so plaintext can never be
written by mistake); the domain seals with :meth:`KeyRing.seal` and a
:class:`FieldContext` derived from the mapped column, which is the same
derivation ``casecoord keys rotate`` uses.

Keys come from settings (``CASECOORD_FIELD_KEYS``, ``CASECOORD_BLIND_INDEX_KEY``).
In development, missing keys are generated once into DATA_DIR; production
refuses to run without configured keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Request
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from app.platform.config import Settings
from app.platform.problems import DomainError
from app.platform.sealing import (
    CASE_FORMAT_VERSION,
    CASE_KID,
    DEV_KID_PREFIX,
    FORMAT_VERSION,
    KEY_BYTES,
    KID_PATTERN,
    MIN_INDEX_KEY_BYTES,
    NONCE_BYTES,
    CryptoError,
    DecryptionError,
    FieldContext,
    JsonSealing,
    KeyConfigError,
    KeysUnavailable,
    Sealed,
    b64decode_unpadded,
    open_envelope,
    seal_envelope,
)

#: The value types live in app/platform/sealing.py; they are imported from here.
__all__ = [
    "CASE_FORMAT_VERSION",
    "CASE_KID",
    "DEV_KID_PREFIX",
    "FORMAT_VERSION",
    "KEY_BYTES",
    "MIN_INDEX_KEY_BYTES",
    "NONCE_BYTES",
    "CaseCipher",
    "CaseDataShredded",
    "CryptoError",
    "DecryptionError",
    "EncryptedText",
    "FieldContext",
    "KeyConfigError",
    "KeyRing",
    "KeyRingDep",
    "KeyRingProvider",
    "KeysUnavailable",
    "Sealed",
    "add_dev_primary",
    "decode_key",
    "ensure_dev_keys",
    "get_keyring",
    "load_keyring",
    "new_key_entry",
    "parse_field_keys",
    "tombstone",
    "uses_dev_key_file",
]


class KeyRing(JsonSealing):
    """The field keys (the first is primary) and the blind-index key."""

    def __init__(self, keys: Sequence[tuple[str, bytes]], index_key: bytes) -> None:
        if not keys:
            raise KeyConfigError("at least one field key is required")
        seen: set[str] = set()
        for kid, key in keys:
            if not KID_PATTERN.match(kid):
                raise KeyConfigError("a key id must be 1-32 letters, digits, '-' or '_'")
            if kid in seen:
                raise KeyConfigError("a key id appears twice")
            if len(key) != KEY_BYTES:
                raise KeyConfigError(f"key {kid} must be {KEY_BYTES} bytes (AES-256)")
            seen.add(kid)
        if len(index_key) < MIN_INDEX_KEY_BYTES:
            raise KeyConfigError(
                f"the blind-index key must be at least {MIN_INDEX_KEY_BYTES} bytes"
            )
        self._ciphers = {kid: AESGCM(key) for kid, key in keys}
        self.primary_kid = keys[0][0]
        self.kids = tuple(kid for kid, _ in keys)
        self._index_key = bytes(index_key)

    @classmethod
    def from_spec(cls, field_keys: str, blind_index_key: str) -> KeyRing:
        return cls(parse_field_keys(field_keys), decode_key(blind_index_key, "blind-index key"))

    def __repr__(self) -> str:
        return f"KeyRing(primary={self.primary_kid!r}, kids={self.kids!r})"

    def seal(self, plaintext: str, ctx: FieldContext) -> Sealed:
        kid = self.primary_kid
        return seal_envelope(self._ciphers[kid], f"{FORMAT_VERSION}.{kid}", plaintext, ctx.aad(kid))

    def open(self, sealed: Sealed, ctx: FieldContext) -> str:
        if sealed.case_id is not None:
            raise DecryptionError("the value is sealed under a case key, not a field key")
        kid = sealed.kid
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(f"key {kid} is not configured")
        return open_envelope(cipher, sealed, ctx.aad(kid))

    def reseal(self, sealed: Sealed, ctx: FieldContext) -> Sealed | None:
        """The value under the primary key, or None when it already is."""
        if sealed.kid == self.primary_kid:
            return None
        return self.seal(self.open(sealed, ctx), ctx)

    def wrap_data_key(self, case_id: uuid.UUID, key: bytes) -> Sealed:
        """A case's data key sealed under the primary field key (bound to its case)."""
        return self.seal(base64.b64encode(key).decode(), _wrap_context(case_id))

    def unwrap_data_key(self, case_id: uuid.UUID, wrapped: Sealed) -> bytes:
        return base64.b64decode(self.open(wrapped, _wrap_context(case_id)))

    def blind_index(self, purpose: str, value: str) -> str:
        """A keyed HMAC of a normalised value, for equality lookups without plaintext.

        ``purpose`` separates indexes of different things, so equal values of
        two different kinds never produce the same index.
        """
        normalised = unicodedata.normalize("NFKC", value).strip()
        message = "\x1f".join(("casecoord-bi", FORMAT_VERSION, purpose, normalised)).encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def _wrap_context(case_id: uuid.UUID) -> FieldContext:
    return FieldContext("case_keys", case_id, "wrapped_key")


class CaseDataShredded(DomainError):
    """The case's data key was destroyed: its protected values are gone for good."""

    status = 410
    type = "case-data-shredded"
    title = "Case data destroyed"


def tombstone(case_id: uuid.UUID) -> Sealed:
    """A well-formed ``c1`` value of the case that no key opens (random bytes).

    Shredding overwrites a case's values still under a field key (format v1)
    with these, so they go with the case key; reading one answers
    :class:`CaseDataShredded` like every other value of the shredded case.
    """
    payload = base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES + 32)).decode()
    return Sealed(f"{CASE_FORMAT_VERSION}.{case_id.hex}.{payload.rstrip('=')}")


class CaseCipher(JsonSealing):
    """One case's data key (unwrapped, in memory for one request at most).

    It seals new values of the case in format ``c1`` and opens both ``c1``
    values and the older ``v1`` values sealed straight under a field key (not
    yet moved by ``casecoord keys rotate``). ``key`` is None with ``shredded``
    False while the case has no data key yet: it then opens only ``v1`` values.
    After the key is destroyed (``shredded``) every value of the case answers
    :class:`CaseDataShredded`: a clear state, never garbage.
    """

    __slots__ = ("_aead", "case_id", "keyring", "shredded")

    def __init__(
        self, case_id: uuid.UUID, keyring: KeyRing, key: bytes | None, shredded: bool = False
    ) -> None:
        self.case_id = case_id
        self.keyring = keyring
        self.shredded = shredded
        self._aead = None if key is None else AESGCM(key)

    def __repr__(self) -> str:
        return f"CaseCipher(case={self.case_id}, shredded={self.shredded})"

    @property
    def can_seal(self) -> bool:
        return self._aead is not None

    def _gone(self) -> CaseDataShredded:
        return CaseDataShredded("This case's protected data has been destroyed.")

    def seal(self, plaintext: str, ctx: FieldContext) -> Sealed:
        if self.shredded:
            raise self._gone()
        if self._aead is None:
            raise CryptoError("the case has no data key yet; create it before sealing")
        prefix = f"{CASE_FORMAT_VERSION}.{self.case_id.hex}"
        return seal_envelope(self._aead, prefix, plaintext, ctx.case_aad(self.case_id))

    def open(self, sealed: Sealed, ctx: FieldContext) -> str:
        if self.shredded:
            raise self._gone()
        owner = sealed.case_id
        if owner is None:
            return self.keyring.open(sealed, ctx)  # sealed before case keys (format v1)
        if owner != self.case_id:
            raise DecryptionError("the value belongs to another case")
        if self._aead is None:  # a c1 value whose key row is gone: as good as shredded
            raise self._gone()
        return open_envelope(self._aead, sealed, ctx.case_aad(self.case_id))


class EncryptedText(TypeDecorator[Sealed]):
    """A column that holds only :class:`Sealed` envelopes, never plaintext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sealed | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise TypeError("protected columns accept only Sealed values; seal the plaintext")
        return value.token

    def process_result_value(self, value: str | None, dialect: Dialect) -> Sealed | None:
        return None if value is None else Sealed(value)


# --- keys from settings ---------------------------------------------------------


def decode_key(text: str, what: str) -> bytes:
    try:
        return b64decode_unpadded(text.strip())
    except (ValueError, binascii.Error) as exc:
        raise KeyConfigError(f"the {what} is not valid base64") from exc


def parse_field_keys(spec: str) -> list[tuple[str, bytes]]:
    """``"kid:base64key,kid2:base64key"`` -> [(kid, key), ...], primary first."""
    keys: list[tuple[str, bytes]] = []
    for entry in spec.split(","):
        if not entry.strip():
            continue
        kid, sep, encoded = entry.strip().partition(":")
        if not sep:
            raise KeyConfigError("each field key must be written kid:base64key")
        keys.append((kid.strip(), decode_key(encoded, f"field key {kid.strip()}")))
    if not keys:
        raise KeyConfigError("no field keys configured")
    return keys


def new_key_entry(kid: str | None = None) -> str:
    """A fresh ``kid:base64key`` entry for CASECOORD_FIELD_KEYS."""
    kid = kid or f"k{secrets.token_hex(4)}"
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _write_private(path: Path, document: dict[str, str]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    os.replace(tmp, path)


def ensure_dev_keys(settings: Settings) -> dict[str, str]:
    """Create (once) the development key file in DATA_DIR and return its contents."""
    if settings.env == "production":
        raise KeyConfigError("generated development keys are refused in production")
    path = settings.dev_field_keys_path
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "field_keys": new_key_entry(f"{DEV_KID_PREFIX}{secrets.token_hex(4)}"),
            "blind_index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read theirs
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
    loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def add_dev_primary(settings: Settings) -> str:
    """Put a new primary key in front of the development key file; returns its id."""
    document = ensure_dev_keys(settings)
    kid = f"{DEV_KID_PREFIX}{secrets.token_hex(4)}"
    document["field_keys"] = f"{new_key_entry(kid)},{document['field_keys']}"
    _write_private(settings.dev_field_keys_path, document)
    return kid


def uses_dev_key_file(settings: Settings) -> bool:
    return settings.env != "production" and settings.field_keys is None


def load_keyring(settings: Settings) -> KeyRing:
    """The key ring the settings describe (development: generated keys as fallback)."""
    field_keys = settings.field_keys.get_secret_value() if settings.field_keys else None
    index_key = settings.blind_index_key.get_secret_value() if settings.blind_index_key else None
    if settings.env == "production":
        if not field_keys or not index_key:
            raise KeyConfigError(
                "CASECOORD_FIELD_KEYS and CASECOORD_BLIND_INDEX_KEY are required in production"
            )
        ring = KeyRing.from_spec(field_keys, index_key)
        if any(kid.startswith(DEV_KID_PREFIX) for kid in ring.kids):
            raise KeyConfigError("development keys (kid dev-*) are refused in production")
        return ring
    if not field_keys or not index_key:
        dev = ensure_dev_keys(settings)
        field_keys = field_keys or dev["field_keys"]
        index_key = index_key or dev["blind_index_key"]
    return KeyRing.from_spec(field_keys, index_key)


class KeyRingProvider:
    """Loads the key ring on first use, so building the app (for the OpenAPI file,
    say) touches no key file. ``casecoord serve`` loads it up front and refuses
    to start when the keys are missing."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ring: KeyRing | None = None

    def get(self) -> KeyRing:
        if self._ring is None:
            self._ring = load_keyring(self._settings)
        return self._ring


async def get_keyring(request: Request) -> KeyRing:
    # async: a plain ``def`` dependency would run in FastAPI's thread pool, a
    # thread hand-off on every request for a dictionary lookup.
    provider: KeyRingProvider = request.app.state.keyring
    try:
        return provider.get()
    except KeyConfigError as exc:
        raise KeysUnavailable("The encryption keys are not configured.") from exc


KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]

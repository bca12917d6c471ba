"""Sealed values: their formats, where they live, and the AES-GCM envelope.

The value types and the envelope that :mod:`app.platform.crypto` builds its
key ring and case cipher on (and re-exports: import them from there). A field
key seals ``v1.<kid>.<payload>``, a case's data key ``c1.<case id hex>.<payload>``;
the payload is ``base64url(nonce || ciphertext || tag)`` either way.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import inspect

from app.platform.problems import DomainError

FORMAT_VERSION = "v1"
KEY_BYTES = 32
MIN_INDEX_KEY_BYTES = 32
NONCE_BYTES = 12
DEV_KID_PREFIX = "dev-"
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TOKEN = re.compile(r"^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{38,})$")
#: A value sealed under a case's data key: ``c1.<case id hex>.<base64url(nonce||ct||tag)>``.
CASE_FORMAT_VERSION = "c1"
_CASE_TOKEN = re.compile(r"^c1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{38,})$")
#: What ``Sealed.kid`` says of a value under a case key (its case key names the field key).
CASE_KID = "case"


class CryptoError(Exception):
    """Base of the errors below. Messages never contain key material or plaintext."""


class KeyConfigError(CryptoError):
    """The key settings are missing or malformed."""


class DecryptionError(CryptoError):
    """Wrong key, wrong row or field, or a tampered value."""


class KeysUnavailable(DomainError):
    status = 503
    type = "keys-unavailable"
    title = "Protected data unavailable"


@dataclass(frozen=True, slots=True)
class Sealed:
    """An encrypted value as stored. Its repr never shows the ciphertext."""

    token: str

    def __post_init__(self) -> None:
        if not (_TOKEN.match(self.token) or _CASE_TOKEN.match(self.token)):
            raise DecryptionError("not a sealed value of a known format")

    @property
    def kid(self) -> str:
        """The field key that sealed it (``"case"`` for a value under a case key)."""
        if self.token.startswith(CASE_FORMAT_VERSION + "."):
            return CASE_KID
        return self.token.split(".", 2)[1]

    @property
    def case_id(self) -> uuid.UUID | None:
        """The case whose data key sealed it (None: sealed under a field key)."""
        if self.token.startswith(CASE_FORMAT_VERSION + "."):
            return uuid.UUID(hex=self.token.split(".", 2)[1])
        return None

    def __repr__(self) -> str:
        return f"Sealed(kid={self.kid!r})"


@dataclass(frozen=True, slots=True)
class FieldContext:
    """Where a sealed value lives: the associated data of its envelope."""

    table: str
    row_id: uuid.UUID
    field: str

    def aad(self, kid: str) -> bytes:
        parts = ("casecoord", FORMAT_VERSION, kid, self.table, str(self.row_id), self.field)
        return "\x1f".join(parts).encode()

    def case_aad(self, case_id: uuid.UUID) -> bytes:
        """The associated data of a value under a case's data key (format c1)."""
        parts = ("casecoord", CASE_FORMAT_VERSION, case_id.hex, self.table, str(self.row_id))
        return "\x1f".join((*parts, self.field)).encode()

    @classmethod
    def of(cls, obj: Any, attr: str) -> FieldContext:
        """The context of a mapped attribute: its table, the row's id, its column name."""
        column = inspect(type(obj)).get_property(attr).columns[0]
        row_id = obj.id
        if not isinstance(row_id, uuid.UUID):
            raise CryptoError("assign the row id before sealing its fields")
        return cls(column.table.name, row_id, column.name)


def b64decode_unpadded(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def seal_envelope(aead: AESGCM, prefix: str, plaintext: str, aad: bytes) -> Sealed:
    """``plaintext`` sealed under ``aead`` as ``<prefix>.<payload>``, a fresh nonce each time."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = aead.encrypt(nonce, plaintext.encode("utf-8"), aad)
    payload = base64.urlsafe_b64encode(nonce + body).decode().rstrip("=")
    return Sealed(f"{prefix}.{payload}")


def open_envelope(aead: AESGCM, sealed: Sealed, aad: bytes) -> str:
    try:
        raw = b64decode_unpadded(sealed.token.split(".", 2)[2])
        plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        return plain.decode("utf-8")
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise DecryptionError("the value does not decrypt for this row and field") from exc


class JsonSealing:
    """``seal_json``/``open_json`` for a sealer that seals and opens text."""

    __slots__ = ()

    def seal(self, plaintext: str, ctx: FieldContext) -> Sealed:
        raise NotImplementedError

    def open(self, sealed: Sealed, ctx: FieldContext) -> str:
        raise NotImplementedError

    def seal_json(self, value: Any, ctx: FieldContext) -> Sealed:
        return self.seal(json.dumps(value, separators=(",", ":"), sort_keys=True), ctx)

    def open_json(self, sealed: Sealed, ctx: FieldContext) -> Any:
        return json.loads(self.open(sealed, ctx))

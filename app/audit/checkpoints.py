"""Signed checkpoints of the access log, kept outside the database.

A checkpoint is a C2SP signed note (https://c2sp.org/signed-note) whose text is

    <origin>
    <period, YYYY-MM>
    <rows in the period, decimal>
    <head hash of the period at that count, base64>

followed by a blank line and one signature line, ``— <key name> <base64(key id
|| Ed25519 signature)>``, where the key id is the first 4 bytes of
SHA-256(key name || 0x0A || 0x01 || public key). The verifier key is the
note-format string ``<name>+<hex key id>+<base64(0x01 || public key)>``.

The Ed25519 private key is a PEM file outside the database (default
``<data_dir>/audit-checkpoint.key``, or CASECOORD_AUDIT_CHECKPOINT_KEY); the
verifier key is written beside it (``.pub``). Whoever rewrites the database
must also forge a checkpoint that has already left it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import seal_all, table

if TYPE_CHECKING:
    from app.jobs.registry import JobContext
    from app.platform.db import Database

ED25519 = b"\x01"
SUFFIX = ".checkpoint"


class CheckpointError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    period: str
    rows: int
    head_hash: str

    def body(self) -> bytes:
        head = base64.b64encode(bytes.fromhex(self.head_hash)).decode()
        return f"{self.origin}\n{self.period}\n{self.rows}\n{head}\n".encode()

    @property
    def filename(self) -> str:
        return f"audit-{self.period}-{self.rows:012d}{SUFFIX}"


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(name: str, public: Ed25519PublicKey) -> str:
    raw = _raw(public)
    return f"{name}+{_key_id(name, raw).hex()}+{base64.b64encode(ED25519 + raw).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    try:
        name, key_id, encoded = text.strip().split("+", 2)  # base64 may hold "+"
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise CheckpointError("malformed verifier key") from exc
    if raw[:1] != ED25519 or len(raw) != 33 or _key_id(name, raw[1:]).hex() != key_id:
        raise CheckpointError("verifier key is not an Ed25519 key of that name")
    return name, bytes.fromhex(key_id), Ed25519PublicKey.from_public_bytes(raw[1:])


def public_path(key_path: Path) -> Path:
    return key_path.with_suffix(".pub")


def generate_key(key_path: Path, name: str, *, overwrite: bool = False) -> str:
    """Write a new private key (0600) and its verifier key; return the verifier key."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise CheckpointError("the key name (origin) may hold no '+' and no spaces")
    if key_path.exists() and not overwrite:
        raise CheckpointError(f"{key_path} exists; refusing to replace a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    vkey = verifier_key(name, key.public_key())
    public_path(key_path).write_text(vkey + "\n", encoding="utf-8")
    return vkey


def load_key(key_path: Path, name: str, *, create: bool = True) -> Ed25519PrivateKey:
    if not key_path.exists():
        if not create:
            raise CheckpointError(f"no checkpoint key at {key_path}")
        generate_key(key_path, name)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{key_path} is not an Ed25519 private key")
    return key


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    body = checkpoint.body()
    raw = _raw(key.public_key())
    signature = base64.b64encode(_key_id(checkpoint.origin, raw) + key.sign(body)).decode()
    return body.decode() + f"\n\u2014 {checkpoint.origin} {signature}\n"


def open_note(note: str, vkey: str) -> Checkpoint:
    """The checkpoint in ``note`` if the verifier key signed it; else CheckpointError."""
    name, key_id, public = parse_verifier_key(vkey)
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise CheckpointError("not a signed note")
    text = body + "\n"
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014" or parts[1] != name:
            continue
        blob = base64.b64decode(parts[2])
        if blob[:4] != key_id:
            continue
        try:
            public.verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise CheckpointError("bad signature") from exc
        lines = body.split("\n")
        if len(lines) != 4 or lines[0] != name:
            raise CheckpointError("unexpected checkpoint body")
        head = base64.b64decode(lines[3]).hex()
        return Checkpoint(lines[0], lines[1], int(lines[2]), head)
    raise CheckpointError(f"no signature by {name}")


async def current(session: AsyncSession, origin: str) -> list[Checkpoint]:
    """One checkpoint per period of the sealed chain: its row count and head hash."""
    stmt = (
        select(table.c.chain_period, func.count(), func.max(table.c.chain_seq))
        .where(table.c.chain_seq.is_not(None))
        .group_by(table.c.chain_period)
        .order_by(table.c.chain_period)
    )
    result = []
    for period, rows, last in (await session.execute(stmt)).all():
        head = await session.scalar(select(table.c.row_hash).where(table.c.chain_seq == last))
        result.append(Checkpoint(origin, period, rows, head or ""))
    return result


def write(out: Path, checkpoints: list[Checkpoint], key: Ed25519PrivateKey) -> list[Path]:
    """Write each checkpoint not already in ``out``; return the new files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for checkpoint in checkpoints:
        path = out / checkpoint.filename
        if not path.exists():
            path.write_text(sign(checkpoint, key), encoding="utf-8")
            written.append(path)
    return written


def read_all(directory: Path, vkey: str) -> dict[str, dict[int, str]]:
    """Every checkpoint in ``directory`` as period -> {rows: head hash}."""
    pins: dict[str, dict[int, str]] = {}
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            checkpoint = open_note(path.read_text(encoding="utf-8"), vkey)
        except (CheckpointError, ValueError) as exc:
            raise CheckpointError(f"{path.name}: {exc}") from exc
        pins.setdefault(checkpoint.period, {})[checkpoint.rows] = checkpoint.head_hash
    return pins


async def seal_and_write(
    db: Database, origin: str, out: Path, key: Ed25519PrivateKey
) -> list[Path]:
    """Seal, then write (and audit) each period's checkpoint not yet in ``out``."""
    from app.audit.service import record

    await seal_all(db)
    async with db.sessionmaker() as session:
        found = await current(session, origin)
    written = write(out, found, key)
    async with db.sessionmaker.begin() as session:
        for path in written:
            record(session, None, "audit.checkpoint.written", "audit_log", None, purpose=path.name)
    return written


async def checkpoint_job(ctx: JobContext) -> int:
    """The periodic checkpoint (singleton, ``audit_checkpoint_seconds``).

    Never creates the signing key: run ``casecoord audit keygen`` first, so that
    every process signs with the one key (until then each run fails with
    CheckpointError, logged, and tries again at the next period).
    """
    settings = ctx.settings
    key = load_key(
        settings.audit_checkpoint_key_path, settings.audit_checkpoint_origin, create=False
    )
    written = await seal_and_write(
        ctx.db, settings.audit_checkpoint_origin, settings.audit_checkpoint_out, key
    )
    return len(written)

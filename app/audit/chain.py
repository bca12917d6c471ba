"""The access log's hash chain: the canonical form, the sealer and verification.

Design (issue 15, measured in bench/bench_audit_chain.py): requests insert
their audit row with the chain columns NULL, exactly as before, so the request
path never waits for a chain lock. A *sealer* then chains committed rows in its
own order, once across all processes:

- every ``audit_seal_seconds`` (default 2 s) by the ``audit.seal`` job, once per
  period across all processes (app/jobs/), and on demand by ``casecoord audit seal``;
- under a transaction-scoped advisory lock on PostgreSQL (SQLite has a single
  writer: BEGIN IMMEDIATE), so two sealers never fork the chain; the unique
  index on ``chain_seq`` refuses a fork even if the lock were bypassed.

A row is therefore unsealed from its commit until the next sealer run: a few
seconds while the app runs. Verification reports unsealed rows separately.

Canonical form, version 1 (``chain_version = 1``)
------------------------------------------------
The row is encoded as compact JSON (``separators=(",", ":")``), keys sorted,
UTF-8, non-ASCII kept as is, with exactly these keys: the content columns of
:data:`CONTENT` (UUIDs as lowercase hyphenated strings, ``occurred_at`` in UTC
as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``actor_roles`` as the stored list, absent
values as ``null``), plus ``v`` (the version), ``seq`` (the row's position in
the chain, 1, 2, 3, ... without holes) and ``period`` (``YYYY-MM``).

``row_hash = SHA-256(prev_hash || canonical)`` over the 32 raw bytes of
``prev_hash`` followed by the canonical bytes, stored as lowercase hex. The
first row ever links to :data:`GENESIS` (64 zeros).

Periods: a row belongs to the month (UTC) of ``occurred_at``, or to the chain
head's period if that is later (a row committed late never reopens a closed
month). The chain runs on across periods: each period's first row links to the
previous period's head, so a whole old period can later be replaced by a stub
(its head hash and row count) and the rest still verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent

log = logging.getLogger("casecoord.audit.chain")

CHAIN_VERSION = 1
GENESIS = "0" * 64
#: pg_advisory_xact_lock key of the sealer ("casecoord audit chain").
SEAL_LOCK_KEY = 0x63_61_73_65_61_75_64_74
CONTENT = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_organisation",
    "actor_roles",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "purpose",
    "emergency_grant_id",
    "request_id",
    "client_ip",
)
CHAIN = ("chain_seq", "chain_period", "chain_version", "prev_hash", "row_hash")

table: Table = AuditEvent.__table__  # type: ignore[assignment]
content_cols = [table.c[name] for name in CONTENT]
chain_cols = [table.c[name] for name in CHAIN]


def utc_text(moment: datetime) -> str:
    # isoformat is C code; "+00:00" becomes "Z" (the form is fixed by chain_version 1)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def period_of(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


_UUIDS = ("id", "actor_id", "emergency_grant_id")
_PLAIN = tuple(name for name in CONTENT if name not in _UUIDS and name != "occurred_at")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def canonical(row: Mapping[Any, Any], seq: int, period: str, version: int = CHAIN_VERSION) -> bytes:
    """The bytes that are hashed for one row (canonical form version 1)."""
    if version != CHAIN_VERSION:
        raise ValueError(f"unknown chain_version {version}")
    doc = {name: row[name] for name in _PLAIN}
    for name in _UUIDS:
        value = row[name]
        doc[name] = None if value is None else str(value)
    doc["occurred_at"] = utc_text(row["occurred_at"])
    doc["v"] = version
    doc["seq"] = seq
    doc["period"] = period
    return _encode(doc).encode()


def link(prev_hash: str, data: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + data).hexdigest()


@dataclass(frozen=True)
class Head:
    seq: int = 0
    period: str = ""
    hash: str = GENESIS

    def next(self, row: Mapping[Any, Any]) -> tuple[Head, dict[str, Any]]:
        """The chain columns for ``row`` appended after this head, and the new head."""
        seq = self.seq + 1
        period = max(self.period, period_of(row["occurred_at"]))
        row_hash = link(self.hash, canonical(row, seq, period))
        columns = {
            "chain_seq": seq,
            "chain_period": period,
            "chain_version": CHAIN_VERSION,
            "prev_hash": self.hash,
            "row_hash": row_hash,
        }
        return Head(seq, period, row_hash), columns


async def chain_head(session: AsyncSession) -> Head:
    stmt = (
        select(table.c.chain_seq, table.c.chain_period, table.c.row_hash)
        .where(table.c.chain_seq.is_not(None))
        .order_by(table.c.chain_seq.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return Head() if row is None else Head(row[0], row[1], row[2])


async def _lock(session: AsyncSession, wait: bool) -> bool:
    """The sealer's lock, held to the end of the caller's transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already made this the only writer
    if wait:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
        return True
    got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
    return bool(got)


_seal_stmt = (
    update(table)
    .where(table.c.id == bindparam("b_id"), table.c.row_hash.is_(None))
    .values({name: bindparam(f"b_{name}") for name in CHAIN})
)


#: Rows hashed per statement pair: the sealer runs inside the app's event loop,
#: and a chunk is CPU work that holds it (reading, hashing, binding). Small
#: chunks keep that pause to milliseconds, so requests served meanwhile do not
#: queue behind a backlog of thousands of rows (bench/README.md, issue 13).
CHUNK = 250


async def seal(session: AsyncSession, *, limit: int = 5000, wait: bool = True) -> int:
    """Chain up to ``limit`` committed, unsealed rows in (occurred_at, id) order.

    Runs in the caller's transaction, which the caller commits; returns the
    number of rows sealed (0 if another sealer holds the lock and not ``wait``).
    Works in chunks of :data:`CHUNK` rows, yielding to the event loop between them.
    """
    if not await _lock(session, wait):
        return 0
    head = await chain_head(session)
    done = 0
    while done < limit:
        want = min(CHUNK, limit - done)
        stmt = (
            select(*content_cols)
            .where(table.c.row_hash.is_(None))
            .order_by(table.c.occurred_at, table.c.id)
            .limit(want)
        )
        rows = (await session.execute(stmt)).mappings().all()
        params: list[dict[str, Any]] = []
        for row in rows:
            head, columns = head.next(row)
            params.append({"b_id": row["id"], **{f"b_{k}": v for k, v in columns.items()}})
        if params:
            await session.execute(
                _seal_stmt, params, execution_options={"synchronize_session": False}
            )
        done += len(params)
        if len(params) < want:
            break
        await asyncio.sleep(0)  # let the requests waiting meanwhile run
    return done


async def seal_all(db: Any, *, limit: int = 5000, wait: bool = True) -> int:
    """Seal everything committed, ``limit`` rows per transaction."""
    total = 0
    while True:
        async with db.sessionmaker.begin() as session:
            sealed = await seal(session, limit=limit, wait=wait)
        total += sealed
        if sealed < limit:
            return total

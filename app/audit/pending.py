"""Audit rows of a transaction, written by one prebuilt Core INSERT when it commits.

:func:`app.audit.service.record` used to ``session.add()`` an ORM object; the
unit-of-work flush of that one row was a tenth of an authorised read's CPU
(bench/README.md, bench_hotpath). Now the row is a plain dict kept in the
session until the transaction commits, then inserted by a statement built once,
**in the same transaction, before the COMMIT** (a ``before_commit`` hook), so
the row commits or rolls back with the action it describes, as before.

What the ORM gave for free, kept here:

- a savepoint that rolls back takes the rows recorded inside it (and in the
  savepoints within it) with it; a root rollback drops them all;
- rows are written when the *root* transaction commits, never at a savepoint's
  release (a release that fails would take them with it);
- a reader of the log in the same transaction calls :func:`write_pending` first
  (the ORM's autoflush did that): app/audit/service.py ``list_events`` and the
  person access report do.

The sealer (app/audit/chain.py) is unaffected: it chains committed rows only,
and the rows are inserted with the chain columns NULL, as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.audit.models import AuditEvent

_KEY = "casecoord.audit.pending"
INSERT: Insert = insert(AuditEvent.__table__)  # type: ignore[arg-type]

# (root transaction or None, innermost savepoint or None, row)
Pending = tuple[SessionTransaction | None, SessionTransaction | None, dict[str, Any]]


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def add(session: AsyncSession | Session, row: dict[str, Any]) -> None:
    """Keep ``row`` for the session's transaction (no SQL, no await)."""
    sync = _sync(session)
    root = sync.get_transaction()
    nested = sync.get_nested_transaction() if root is not None else None
    sync.info.setdefault(_KEY, []).append((root, nested, row))


def _take(sync: Session) -> list[dict[str, Any]]:
    """The rows of the current root transaction, removed from the session."""
    pending: list[Pending] | None = sync.info.get(_KEY)
    if not pending:
        return []
    root = sync.get_transaction()
    rows = [row for owner, _nested, row in pending if owner is None or owner is root]
    pending.clear()  # rows of an older, closed transaction go too
    return rows


def _write(sync: Session) -> None:
    rows = _take(sync)
    if rows:
        # One row (an audited read) as a single execute: a list, even of one, takes
        # the executemany path (insertmanyvalues batching), which costs more.
        sync.connection().execute(INSERT, rows[0] if len(rows) == 1 else rows)


async def write_pending(session: AsyncSession) -> None:
    """Insert the transaction's recorded rows now (before reading the log)."""
    if session.sync_session.info.get(_KEY):
        await session.run_sync(_write)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release: the rows wait for the root's commit
    _write(session)


def _inside(nested: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while nested is not None:
        if nested is rolled_back:
            return True
        nested = nested.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[Pending] | None = session.info.get(_KEY)
    if not pending:
        return
    # What the database rolled back: the nearest savepoint or the root (a failed
    # flush rolls back its internal subtransaction, i.e. up to that boundary).
    boundary = previous_transaction
    while boundary.parent is not None and not boundary.nested:
        boundary = boundary.parent
    current = session.get_transaction()
    if boundary.parent is None or current is None or not current.is_active:
        pending.clear()  # the root transaction is gone: every row with it
        return
    pending[:] = [p for p in pending if not _inside(p[1], boundary)]

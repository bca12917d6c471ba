"""Case data keys: create (lazily, on a case's first sealed value), open per
request, shred, and which sealed columns belong to a case.

The unwrapped keys of one request live in ``session.info`` (one session per
request, one transaction), so nothing unwrapped outlives the request, and a
shredded key is never cached: :func:`shred_case_key` drops it from the cache
and every later lookup in the session sees the destroyed row.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Column, MetaData, Select, Table, Text, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.casekeys.models import CaseKey
from app.platform.crypto import (
    KEY_BYTES,
    CaseCipher,
    EncryptedText,
    FieldContext,
    KeyRing,
    Sealed,
    tombstone,
)
from app.platform.db import utcnow

CACHE = "casecoord.case_ciphers"
#: Key rows a query of this transaction already read with the case (the case
#: access statement, app/cases/access.py), so the first :func:`case_cipher` of
#: the case needs no query of its own. Used once, then read afresh.
PRIMED = "casecoord.case_key_rows"


class KeyRow(Protocol):
    """What opening a case key reads of its row: a ``CaseKey`` or a Core row."""

    @property
    def wrapped_key(self) -> str | None: ...

    @property
    def destroyed_at(self) -> datetime | None: ...


#: Tables whose sealed columns belong to one case, and how a row finds its case:
#: ``("case_id",)`` for a column of its own, or ``(fk column, parent table)``
#: whose row has the ``case_id``. Everything sealed elsewhere stays under the
#: field key (docs/ARCHITECTURE.md, "Case keys"); tests/security/test_case_keys.py
#: checks that every sealed table is on one list or the other.
CASE_SEALED: dict[str, tuple[str, ...]] = {
    "person_case_facts": ("case_id",),
    "person_case_fact_versions": ("facts_id", "person_case_facts"),
    "plan_versions": ("plan_id", "plans"),
    "referrals": ("case_id",),
    "referral_events": ("referral_id", "referrals"),
    "person_consents": ("case_id",),
    "case_notes": ("case_id",),
    "meeting_minutes": ("case_id",),
    "emergency_grants": ("case_id",),
    "assessments": ("case_id",),
    "plans": ("case_id",),
    # Revision 0024 (app/casekeys/freetext.py); a case row is its own case.
    "cases": ("id",),
    "case_transitions": ("case_id",),
    "case_members": ("case_id",),
    "case_exclusions": ("case_id",),
    "case_incidents": ("case_id",),
    "external_assessments": ("case_id",),
    "plan_measures": ("case_id",),
}
#: Sealed tables that stay under the field key: a person's identity is shared by
#: every case of the person, so no single case may destroy it; a webhook secret
#: belongs to an organisation, not a case; a concern exists before any case (it
#: may go into one, or be dismissed and purged without ever having one).
FIELD_SEALED = frozenset({"persons", "person_versions", "webhook_endpoints", "concerns"})


def _cache(session: AsyncSession) -> dict[uuid.UUID, CaseCipher]:
    cache: dict[uuid.UUID, CaseCipher] = session.info.setdefault(CACHE, {})
    return cache


def prime(session: AsyncSession, case_id: uuid.UUID, row: KeyRow | None) -> None:
    """Keep the case's key row (``None``: it has none yet) as a query of this
    transaction read it, for the case's first :func:`case_cipher`."""
    session.info.setdefault(PRIMED, {})[case_id] = row


def _cipher(keyring: KeyRing, case_id: uuid.UUID, row: KeyRow | None) -> CaseCipher:
    if row is None:
        return CaseCipher(case_id, keyring, None)
    if row.destroyed_at is not None or row.wrapped_key is None:
        return CaseCipher(case_id, keyring, None, shredded=True)
    return CaseCipher(case_id, keyring, keyring.unwrap_data_key(case_id, Sealed(row.wrapped_key)))


async def case_cipher(
    session: AsyncSession, keyring: KeyRing, case_id: uuid.UUID, *, create: bool = False
) -> CaseCipher:
    """The case's cipher for this request; ``create`` makes its data key if it has none.

    A shredded case answers a shredded cipher (it never gets a new key).
    """
    cache = _cache(session)
    found = cache.get(case_id)
    if found is not None and (found.shredded or not create or found.can_seal):
        return found
    primed: dict[uuid.UUID, KeyRow | None] = session.info.get(PRIMED, {})
    row: KeyRow | None
    if case_id in primed:
        row = primed.pop(case_id)
    else:
        row = await session.get(CaseKey, case_id)
    if row is None and create:
        row = await _create(session, keyring, case_id)
    cipher = _cipher(keyring, case_id, row)
    if not cipher.shredded:
        cache[case_id] = cipher
    return cipher


async def case_ciphers(
    session: AsyncSession, keyring: KeyRing, case_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CaseCipher]:
    """Ciphers for several cases (one query for those not cached yet)."""
    wanted = set(case_ids)
    cache = _cache(session)
    missing = wanted - set(cache)
    rows = {}
    if missing:
        found = await session.scalars(select(CaseKey).where(CaseKey.case_id.in_(missing)))
        rows = {row.case_id: row for row in found}
    out = {}
    for case_id in wanted:
        cipher = cache.get(case_id) or _cipher(keyring, case_id, rows.get(case_id))
        if not cipher.shredded:
            cache[case_id] = cipher
        out[case_id] = cipher
    return out


async def _create(session: AsyncSession, keyring: KeyRing, case_id: uuid.UUID) -> CaseKey:
    key = secrets.token_bytes(KEY_BYTES)
    row = CaseKey(
        case_id=case_id,
        wrapped_key=keyring.wrap_data_key(case_id, key).token,
        key_version=keyring.primary_kid,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Another request made the case's key meanwhile: use theirs.
        winner = await session.scalar(
            select(CaseKey)
            .where(CaseKey.case_id == case_id)
            .execution_options(populate_existing=True)
        )
        assert winner is not None
        return winner
    return row


@dataclass(frozen=True)
class ShredResult:
    case_id: uuid.UUID
    #: False when the key had already been destroyed.
    destroyed: bool
    #: Values of the case still sealed straight under a field key (format v1,
    #: not yet moved by ``keys rotate``), overwritten with unreadable tombstones.
    legacy_values: int


async def shred_case_key(
    session: AsyncSession,
    case_id: uuid.UUID,
    actor: Principal | None = None,
    *,
    purpose: str | None = None,
) -> ShredResult:
    """Destroy the case's data key in the caller's transaction (idempotent).

    The wrapped key is overwritten with NULL and ``destroyed_at`` is set; a
    case without a key yet gets a destroyed row, so it never gets one later.
    Audited by ids only. Afterwards every value of the case reads as
    :class:`~app.platform.crypto.CaseDataShredded`.
    """
    row = await session.get(CaseKey, case_id, with_for_update=True)
    destroyed = True
    if row is None:
        now = utcnow()
        session.add(CaseKey(case_id=case_id, created_at=now, destroyed_at=now))
    elif row.destroyed_at is None:
        row.wrapped_key = None
        row.key_version = None
        row.destroyed_at = utcnow()
    else:
        destroyed = False
    _cache(session).pop(case_id, None)
    session.info.get(PRIMED, {}).pop(case_id, None)
    await session.flush()
    legacy = await _bury_legacy_values(session, case_id)
    if destroyed or legacy:
        audit.record(
            session,
            actor,
            "case.key_shredded",
            "case",
            case_id,
            purpose=purpose or f"case data key destroyed; {legacy} older values overwritten",
        )
    return ShredResult(case_id, destroyed, legacy)


# --- which rows belong to which case (rotation, shredding, tests) ---------------------


def sealed_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if isinstance(c.type, EncryptedText)]


def case_of_rows(metadata: MetaData, table: Table) -> Select[Any]:
    """``SELECT id, case_id, <sealed columns>`` of a case-sealed table."""
    path = CASE_SEALED[table.name]
    columns = sealed_columns(table)
    if len(path) == 1:
        return select(table.c.id, table.c[path[0]].label("case_id"), *columns)
    parent = metadata.tables[path[1]]
    return select(table.c.id, parent.c.case_id.label("case_id"), *columns).join(
        parent, parent.c.id == table.c[path[0]]
    )


def is_field_sealed(column: Any) -> Any:
    """SQL: the value is sealed straight under a field key (format v1)."""
    return type_coerce(column, Text).like("v1.%")


async def _bury_legacy_values(session: AsyncSession, case_id: uuid.UUID) -> int:
    """Overwrite the case's values still under a field key with tombstones."""
    from app.platform.registry import Base

    buried = 0
    for name in CASE_SEALED:
        table = Base.metadata.tables[name]
        found = case_of_rows(Base.metadata, table).subquery()
        for column in sealed_columns(table):
            ids = (
                await session.scalars(
                    select(found.c.id).where(
                        found.c.case_id == case_id, is_field_sealed(found.c[column.name])
                    )
                )
            ).all()
            for row_id in ids:
                await session.execute(
                    update(table)
                    .where(table.c.id == row_id)
                    .values({column.name: tombstone(case_id)})
                    .execution_options(synchronize_session=False)
                )
            buried += len(ids)
    from app.casekeys.freetext import bury_case_text

    return buried + await bury_case_text(session, Base.metadata, case_id)


async def open_stored(
    session: AsyncSession, keyring: KeyRing, sealed: Sealed, ctx: FieldContext
) -> str:
    """Open one stored value of either format straight from the key rows (no cache).

    For checks over the whole database (tests, tooling): a value under a
    destroyed key raises :class:`~app.platform.crypto.CaseDataShredded`.
    """
    case_id = sealed.case_id
    if case_id is None:
        return keyring.open(sealed, ctx)
    row = await session.scalar(
        select(CaseKey).where(CaseKey.case_id == case_id).execution_options(populate_existing=True)
    )
    return _cipher(keyring, case_id, row).open(sealed, ctx)

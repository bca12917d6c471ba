"""Referrals', concerns', consents' and versions' free text sealed (issue 15).

Adds a sealed column next to each plaintext one and makes the plaintext
columns nullable:

- under the case's data key (shredding the case destroys them): the referral's
  ``reason``, ``note_to_provider``, ``reason_text``, ``outcome_text``; the copy
  of ``reason_text`` in ``referral_events``; the ``reason`` of a case's facts
  version (``person_case_fact_versions``); a consent's ``reference`` and
  ``withdrawal_note`` (a basis is given in one case);
- under the field key (no case owns them): a concern's subject names as
  submitted, ``description`` and ``decision_reason``; the ``reason`` of an
  identity version (``person_versions``).

A migration holds no key, so the values already written stay in plain text
until ``casecoord keys rotate`` seals them and empties the plaintext
(app/casekeys/freetext.py; ``keys status`` counts them as ``plaintext``). The
application reads both meanwhile.

The downgrade opens the sealed values (loading the key ring only if there are
any) and writes them back in plain text; it refuses when a case was shredded,
as 0021 does: the text is gone and the older code needs a value.

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-06 23:45:00.000000
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.platform.crypto import CaseCipher, FieldContext, KeyRing, Sealed

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

TEXT = sa.Text()
NAME = sa.String(200)
#: table -> ((plaintext column, its type, plaintext was NOT NULL), ...); each sealed
#: column is ``<plaintext column>_enc``.
SEALED: dict[str, tuple[tuple[str, Any, bool], ...]] = {
    "referrals": (
        ("reason", TEXT, True),
        ("note_to_provider", TEXT, False),
        ("reason_text", TEXT, False),
        ("outcome_text", TEXT, False),
    ),
    "referral_events": (("reason_text", TEXT, False),),
    "person_case_fact_versions": (("reason", TEXT, True),),
    "person_consents": (("reference", NAME, False), ("withdrawal_note", TEXT, False)),
    "person_versions": (("reason", TEXT, True),),
    "concerns": (
        ("subject_given_name", NAME, True),
        ("subject_family_name", NAME, True),
        ("description", TEXT, True),
        ("decision_reason", TEXT, False),
    ),
}
#: How a case-sealed row finds its case: its own case_id, or (fk, parent table).
CASE_OF: dict[str, tuple[str, ...]] = {
    "referrals": ("case_id",),
    "referral_events": ("referral_id", "referrals"),
    "person_case_fact_versions": ("facts_id", "person_case_facts"),
    "person_consents": ("case_id",),
}


def upgrade() -> None:
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for plain, type_, required in columns:
                batch_op.add_column(sa.Column(f"{plain}_enc", sa.Text(), nullable=True))
                if required:
                    batch_op.alter_column(plain, existing_type=type_, nullable=True)


def _keyring_loader() -> Callable[[], KeyRing]:
    """0021's loader: the key ring given to the migration, else the settings'."""
    earlier = importlib.import_module("migrations.versions.0021_sealed_free_text")
    loader: Callable[[], KeyRing] = earlier._keyring_loader()
    return loader


def _rows(bind: sa.Connection, name: str) -> tuple[sa.TableClause, list[Any]]:
    """The table and its rows holding a sealed value, each with its case (or None)."""
    columns = SEALED[name]
    table = sa.table(
        name,
        sa.column("id", sa.Uuid()),
        *(sa.column(c, sa.Text()) for plain, _, _ in columns for c in (plain, f"{plain}_enc")),
    )
    wanted = sa.or_(*(table.c[f"{plain}_enc"].is_not(None) for plain, _, _ in columns))
    path = CASE_OF.get(name)
    if path is None:
        stmt = sa.select(table, sa.null().label("case_of"))
    elif len(path) == 1:
        table.append_column(sa.column("case_id", sa.Uuid()))
        stmt = sa.select(table, table.c.case_id.label("case_of"))
    else:
        fk, parent_name = path
        table.append_column(sa.column(fk, sa.Uuid()))
        parent = sa.table(parent_name, sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()))
        stmt = sa.select(table, parent.c.case_id.label("case_of")).join(
            parent, parent.c.id == table.c[fk]
        )
    return table, list(bind.execute(stmt.where(wanted)).all())


def _unseal(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> None:
    keys_t = sa.table(
        "case_keys",
        sa.column("case_id", sa.Uuid()),
        sa.column("wrapped_key", sa.Text()),
        sa.column("destroyed_at", sa.DateTime()),
    )
    ciphers: dict[Any, CaseCipher] = {}

    def opener(case_id: Any) -> KeyRing | CaseCipher:
        if case_id is None:
            return keyring()
        if case_id not in ciphers:
            row = bind.execute(sa.select(keys_t).where(keys_t.c.case_id == case_id)).first()
            if row is None or row.destroyed_at is not None or row.wrapped_key is None:
                raise RuntimeError(
                    f"case {case_id} was shredded: its free text is gone and cannot be "
                    "written back in plain text, so revision 0025 cannot be downgraded"
                )
            ring = keyring()
            key = ring.unwrap_data_key(case_id, Sealed(row.wrapped_key))
            ciphers[case_id] = CaseCipher(case_id, ring, key)
        return ciphers[case_id]

    for name, columns in SEALED.items():
        table, rows = _rows(bind, name)
        for row in rows:
            values = {}
            for plain, _, _ in columns:
                token = row._mapping[f"{plain}_enc"]
                if token is not None:
                    ctx = FieldContext(name, row.id, f"{plain}_enc")
                    values[plain] = opener(row.case_of).open(Sealed(token), ctx)
            bind.execute(table.update().where(table.c.id == row.id).values(**values))


def downgrade() -> None:
    _unseal(op.get_bind(), _keyring_loader())
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for plain, type_, required in columns:
                if required:
                    batch_op.alter_column(plain, existing_type=type_, nullable=False)
                batch_op.drop_column(f"{plain}_enc")

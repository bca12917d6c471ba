"""Measures' outcome notes sealed under the case's data key (issue 15).

``plan_measures.outcome_note`` is why a measure was done, not done or cancelled,
written by hand or by a referral that settles its linked measure. This adds
``outcome_note_enc`` next to it, as 0024 did for the measure's description.

A migration holds no key: the notes already written stay in plain text until
``casecoord keys rotate`` seals them under their case keys and empties the
plaintext (app/casekeys/freetext.py, LEGACY_PLAINTEXT; ``keys status`` counts
them as ``plaintext``); the application reads both meanwhile, and shredding a
case empties them at once.

The downgrade opens the sealed notes and writes them back in plain text; it
refuses when a case was shredded (its notes are gone), as 0024 does.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 00:40:00.000000
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.platform.crypto import CaseCipher, FieldContext, Sealed

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

TABLE = "plan_measures"
PLAIN = "outcome_note"
SEALED = f"{PLAIN}_enc"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column(SEALED, sa.Text(), nullable=True))


def _ciphers(bind: sa.Connection) -> Callable[[Any], CaseCipher]:
    """0024's key ring loader and per-case ciphers, whose refusal of a shredded case
    (their only RuntimeError) is told again naming this revision, not 0024."""
    earlier: Any = importlib.import_module("migrations.versions.0024_sealed_case_text")
    opened: Callable[[Any], CaseCipher] = earlier._ciphers(bind, earlier._keyring_loader())

    def cipher(case_id: Any) -> CaseCipher:
        try:
            return opened(case_id)
        except RuntimeError:
            raise RuntimeError(
                f"case {case_id} was shredded: its outcome notes are gone and cannot be "
                f"written back in plain text, so revision {revision} cannot be downgraded"
            ) from None

    return cipher


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _ciphers(bind)
    table = sa.table(
        TABLE,
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column(PLAIN, sa.Text()),
        sa.column(SEALED, sa.Text()),
    )
    rows = bind.execute(sa.select(table).where(table.c[SEALED].is_not(None))).all()
    for row in rows:
        ctx = FieldContext(TABLE, row.id, SEALED)
        note = cipher(row.case_id).open(Sealed(row._mapping[SEALED]), ctx)
        bind.execute(table.update().where(table.c.id == row.id).values({PLAIN: note}))
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column(SEALED)

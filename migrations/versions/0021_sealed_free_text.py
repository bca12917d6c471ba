"""Case free text sealed under the case's data key: notes, minutes, emergency
grants, the free text of assessment answers.

Adds a sealed column next to each plaintext one (``case_notes.text_enc``,
``correction_reason_enc``; ``meeting_minutes.text_enc``, ``reason_enc``;
``emergency_grants.reason_enc``, ``review_note_enc``) and makes the plaintext
columns nullable; ``assessments.answer_text_enc`` takes the answers' source,
evidence and note, which older rows hold inline in ``answers``. A migration
holds no key, so the values already written stay in plain text until
``casecoord keys rotate`` seals them under their case keys and empties the
plaintext (app/casekeys/freetext.py; ``keys status`` counts what is left as
``plaintext``). The application reads both meanwhile. A later revision drops
the plaintext columns once every installation has rotated.

The downgrade opens the sealed values (it loads the key ring only if there are
any, like 0019) and writes them back in plain text (the answers' texts back
inline); it refuses when a case was shredded, since its text is gone and the
older code needs a value.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.platform.crypto import CaseCipher, FieldContext, KeyRing, Sealed

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

#: table -> ((plaintext column, sealed column, plaintext was NOT NULL), ...)
SEALED: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "case_notes": (
        ("text", "text_enc", True),
        ("correction_reason", "correction_reason_enc", False),
    ),
    "meeting_minutes": (("text", "text_enc", True), ("reason", "reason_enc", False)),
    "emergency_grants": (("reason", "reason_enc", True), ("review_note", "review_note_enc", False)),
    "plans": (("last_review_note", "last_review_note_enc", False),),
    "plan_versions": (("internal_note", "internal_note_enc", False),),
}
#: Tables without a case_id of their own: (fk column, parent table with case_id).
PARENT = {"plan_versions": ("plan_id", "plans")}


#: The answers' free text: (JSON column, sealed column, item key, text fields).
ANSWERS = ("answers", "answer_text_enc", "item", ("source", "evidence", "note"))


def upgrade() -> None:
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for plain, enc, required in columns:
                batch_op.add_column(sa.Column(enc, sa.Text(), nullable=True))
                if required:
                    batch_op.alter_column(plain, existing_type=sa.Text(), nullable=True)
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column(ANSWERS[1], sa.Text(), nullable=True))


def _keyring_loader() -> Callable[[], KeyRing]:
    config = op.get_context().config
    given = config.attributes.get("keyring") if config is not None else None
    cache: list[KeyRing] = []

    def load() -> KeyRing:
        if not cache:
            if given is not None:
                cache.append(given() if callable(given) else given)
            else:
                from app.platform.config import get_settings
                from app.platform.crypto import load_keyring

                cache.append(load_keyring(get_settings()))
        return cache[0]

    return load


def _unseal(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> None:
    keys_t = sa.table(
        "case_keys",
        sa.column("case_id", sa.Uuid()),
        sa.column("wrapped_key", sa.Text()),
        sa.column("destroyed_at", sa.DateTime()),
    )
    ciphers: dict[Any, CaseCipher] = {}

    def cipher(case_id: Any) -> CaseCipher:
        if case_id not in ciphers:
            row = bind.execute(sa.select(keys_t).where(keys_t.c.case_id == case_id)).first()
            if row is None or row.destroyed_at is not None or row.wrapped_key is None:
                raise RuntimeError(
                    f"case {case_id} was shredded: its free text is gone and cannot be "
                    "written back in plain text, so revision 0021 cannot be downgraded"
                )
            ring = keyring()
            key = ring.unwrap_data_key(case_id, Sealed(row.wrapped_key))
            ciphers[case_id] = CaseCipher(case_id, ring, key)
        return ciphers[case_id]

    for name, columns in SEALED.items():
        table = sa.table(
            name,
            sa.column("id", sa.Uuid()),
            *(sa.column(c, sa.Text()) for pair in columns for c in pair[:2]),
        )
        wanted = sa.or_(*(table.c[enc].is_not(None) for _, enc, _ in columns))
        if name in PARENT:
            fk, parent_name = PARENT[name]
            table.append_column(sa.column(fk, sa.Uuid()))
            parent = sa.table(
                parent_name, sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid())
            )
            stmt = sa.select(table, parent.c.case_id).join(parent, parent.c.id == table.c[fk])
        else:
            table.append_column(sa.column("case_id", sa.Uuid()))
            stmt = sa.select(table)
        for row in bind.execute(stmt.where(wanted)).all():
            values = {}
            for plain, enc, _ in columns:
                token = row._mapping[enc]
                if token is not None:
                    ctx = FieldContext(name, row.id, enc)
                    values[plain] = cipher(row.case_id).open(Sealed(token), ctx)
            bind.execute(table.update().where(table.c.id == row.id).values(**values))

    column, enc, key, _ = ANSWERS
    assessments = sa.table(
        "assessments",
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column(column, sa.JSON()),
        sa.column(enc, sa.Text()),
    )
    rows = bind.execute(sa.select(assessments).where(assessments.c[enc].is_not(None))).all()
    for row in rows:
        ctx = FieldContext("assessments", row.id, enc)
        texts = cipher(row.case_id).open_json(Sealed(row._mapping[enc]), ctx)
        inline = [{**a, **texts.get(str(a.get(key)), {})} for a in row._mapping[column] or []]
        bind.execute(
            assessments.update().where(assessments.c.id == row.id).values({column: inline})
        )


def downgrade() -> None:
    _unseal(op.get_bind(), _keyring_loader())
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_column(ANSWERS[1])
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for plain, enc, required in columns:
                if required:
                    batch_op.alter_column(plain, existing_type=sa.Text(), nullable=False)
                batch_op.drop_column(enc)

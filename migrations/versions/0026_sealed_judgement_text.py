"""The free text of an assessment's judgement sealed under the case's data key
(issue 15), as 0021 did for the answers' texts.

``assessments.judgement`` maps field codes to values; the text-kind fields
(Marak ``judgement_reasons``, the HAH formulation, Ankkuri's summary of needs)
are now sealed in the new ``assessments.judgement_text_enc`` as
``{field: text}``, and the plain ``judgement`` keeps the codes, dates and
booleans with ``null`` where a text was given (app/risk/judgement_text.py). A
migration holds no key, and which fields are text only the pinned instrument
version knows: rows already written keep their texts inline until
``casecoord keys rotate`` splits and seals them (app/casekeys/freetext.py,
LEGACY_JSON_DICT_TEXT); the application reads both meanwhile.

The downgrade opens the sealed texts and writes them back inline; it refuses
when a case was shredded (its text is gone, the older code needs it).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 00:20:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.platform.crypto import CaseCipher, FieldContext, KeyRing, Sealed

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

ENC = "judgement_text_enc"


def upgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column(ENC, sa.Text(), nullable=True))


def _keyring() -> KeyRing:
    config = op.get_context().config
    given = config.attributes.get("keyring") if config is not None else None
    if given is not None:
        ring: KeyRing = given() if callable(given) else given
        return ring
    from app.platform.config import get_settings
    from app.platform.crypto import load_keyring

    return load_keyring(get_settings())


def _ciphers(bind: sa.Connection) -> Callable[[Any], CaseCipher]:
    keys_t = sa.table(
        "case_keys",
        sa.column("case_id", sa.Uuid()),
        sa.column("wrapped_key", sa.Text()),
        sa.column("destroyed_at", sa.DateTime()),
    )
    ciphers: dict[Any, CaseCipher] = {}
    rings: list[KeyRing] = []  # loaded only when a sealed value is found

    def cipher(case_id: Any) -> CaseCipher:
        if case_id not in ciphers:
            row = bind.execute(sa.select(keys_t).where(keys_t.c.case_id == case_id)).first()
            if row is None or row.destroyed_at is not None or row.wrapped_key is None:
                raise RuntimeError(
                    f"case {case_id} was shredded: its judgement text is gone and cannot be "
                    "written back in plain text, so revision 0026 cannot be downgraded"
                )
            if not rings:
                rings.append(_keyring())
            key = rings[0].unwrap_data_key(case_id, Sealed(row.wrapped_key))
            ciphers[case_id] = CaseCipher(case_id, rings[0], key)
        return ciphers[case_id]

    return cipher


def downgrade() -> None:
    bind = op.get_bind()
    cipher = _ciphers(bind)
    assessments = sa.table(
        "assessments",
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column("judgement", sa.JSON()),
        sa.column(ENC, sa.Text()),
    )
    rows = bind.execute(sa.select(assessments).where(assessments.c[ENC].is_not(None))).all()
    for row in rows:
        ctx = FieldContext("assessments", row.id, ENC)
        texts = cipher(row.case_id).open_json(Sealed(row._mapping[ENC]), ctx)
        judgement = row.judgement or {}
        inline = {k: texts.get(k) if v is None else v for k, v in judgement.items()}
        bind.execute(
            assessments.update().where(assessments.c.id == row.id).values(judgement=inline)
        )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_column(ENC)

"""Per-case data keys (crypto-shredding): ``case_keys``.

Values sealed before this revision stay readable (format v1, straight under a
field key); ``casecoord keys rotate`` moves a case's values under its data key.

The downgrade moves values under case keys (format c1) back under the primary
field key (it loads the key ring only if there are any, like 0010), and
refuses when a case was shredded: its values can no longer be moved, and the
older code cannot read the c1 format.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.platform.db
from app.platform.crypto import CaseCipher, FieldContext, KeyRing, Sealed

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_keys",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=True),
        sa.Column("key_version", sa.String(length=32), nullable=True),
        sa.Column("created_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_keys_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_keys")),
    )


#: table -> (sealed columns, the column or (fk, parent) that leads to the case)
CASE_SEALED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "person_case_facts": (("address_enc", "phones_enc", "safe_contact_enc"), ("case_id",)),
    "person_case_fact_versions": (("snapshot_enc",), ("facts_id", "person_case_facts")),
    "plan_versions": (("safe_contact_enc",), ("plan_id", "plans")),
    "referrals": (("shared_enc",), ("case_id",)),
}


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


def _unseal_case_values(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> None:
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
                    f"case {case_id} was shredded: its values cannot be moved back under "
                    "the field key, so revision 0019 cannot be downgraded"
                )
            ring = keyring()
            key = ring.unwrap_data_key(case_id, Sealed(row.wrapped_key))
            ciphers[case_id] = CaseCipher(case_id, ring, key)
        return ciphers[case_id]

    for name, (columns, path) in CASE_SEALED.items():
        table = sa.table(
            name, sa.column("id", sa.Uuid()), *(sa.column(c, sa.Text()) for c in columns)
        )
        if len(path) == 1:
            table.append_column(sa.column(path[0], sa.Uuid()))
            stmt = sa.select(table, table.c[path[0]].label("owner"))
        else:
            parent = sa.table(path[1], sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()))
            table.append_column(sa.column(path[0], sa.Uuid()))
            stmt = sa.select(table, parent.c.case_id.label("owner")).join(
                parent, parent.c.id == table.c[path[0]]
            )
        for row in bind.execute(stmt).all():
            values = {}
            for column in columns:
                token = row._mapping[column]
                if token is None or not token.startswith("c1."):
                    continue
                ctx = FieldContext(name, row.id, column)
                plain = cipher(row.owner).open(Sealed(token), ctx)
                values[column] = keyring().seal(plain, ctx).token
            if values:
                bind.execute(table.update().where(table.c.id == row.id).values(**values))


def downgrade() -> None:
    _unseal_case_values(op.get_bind(), _keyring_loader())
    op.drop_table("case_keys")

"""Per-case data keys (crypto-shredding): ``case_keys``.

Values sealed before this revision stay readable (format v1, straight under a
field key); ``casecoord keys rotate`` moves a case's values under its data key.

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-06 18:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0019"
down_revision = "0015"
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


def downgrade() -> None:
    op.drop_table("case_keys")

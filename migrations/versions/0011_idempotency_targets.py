"""The Idempotency-Key store keeps no response bodies: a replay re-reads what the
first request created (``target_type``, ``target_id``) through the normal
readable path. ``response_body`` is dropped; rows that name no target (they
could only be replayed from the body) are deleted, as they would expire within
24 hours anyway. ``target_id`` widens to hold an instrument's ``code@version``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE target_type IS NULL OR target_id IS NULL")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("response_body")
        batch_op.alter_column("target_type", existing_type=sa.String(length=50), nullable=False)
        batch_op.alter_column(
            "target_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            nullable=False,
        )


def downgrade() -> None:
    # The bodies are gone for good; a downgraded store starts empty.
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "target_id",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            nullable=True,
        )
        batch_op.alter_column("target_type", existing_type=sa.String(length=50), nullable=True)
        batch_op.add_column(sa.Column("response_body", sa.JSON(), nullable=False))

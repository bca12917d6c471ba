"""Referral indexes found by bench/bench_referrals.py: the referrer's /me/tasks starts
from their own referrals (``created_by``), and the provider inbox pages by
``(created_at, id)`` within one organisation.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 09:47:13.055511
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referrals_created_by", ["created_by", "status", "response_due_at"], unique=False
        )
        batch_op.create_index(
            "ix_referrals_provider_created",
            ["provider_organisation_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_provider_created")
        batch_op.drop_index("ix_referrals_created_by")

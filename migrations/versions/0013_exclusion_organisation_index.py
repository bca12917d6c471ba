"""Must-not-receive is part of the readable-cases rule: every read asks which cases
exclude the caller's organisation, so that question gets an index.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_exclusions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_exclusions_organisation_id",
            ["organisation_id", "case_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("case_exclusions", schema=None) as batch_op:
        batch_op.drop_index("ix_case_exclusions_organisation_id")

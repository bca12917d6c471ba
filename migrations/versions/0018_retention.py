"""Retention: legal holds, and the stubs of access-log periods retention removed.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 18:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_period_stubs",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("removed_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_audit_period_stubs")),
        sa.UniqueConstraint("first_seq", name=op.f("uq_audit_period_stubs_first_seq")),
        sa.UniqueConstraint("last_seq", name=op.f("uq_audit_period_stubs_last_seq")),
    )
    op.create_table(
        "legal_holds",
        sa.Column("target_type", sa.String(length=10), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("ground", sa.String(length=300), nullable=False),
        sa.Column("placed_by", sa.Uuid(), nullable=False),
        sa.Column("lifted_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.Uuid(), nullable=True),
        sa.Column("lift_ground", sa.String(length=300), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            app.platform.db.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            app.platform.db.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["placed_by"],
            ["users.id"],
            name=op.f("fk_legal_holds_placed_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by"],
            ["users.id"],
            name=op.f("fk_legal_holds_lifted_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index("ix_legal_holds_target", ["target_type", "target_id"], unique=False)
        batch_op.create_index("ix_legal_holds_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_legal_holds_created_at_id")
        batch_op.drop_index("ix_legal_holds_target")
    op.drop_table("legal_holds")
    op.drop_table("audit_period_stubs")

"""Service directory: service_entries (docs/DOMAIN.md section 3), public contacts only.

The Finnish national services are seeded by app/demo/services.py (demo), not here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 08:02:54.616120
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_entries",
        sa.Column("provider_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("contact_web", sa.String(length=300), nullable=True),
        sa.Column("accepts_electronic_referrals", sa.Boolean(), nullable=False),
        sa.Column("response_time_target_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
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
            ["provider_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_service_entries_provider_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_entries")),
        sa.UniqueConstraint(
            "provider_organisation_id", "name", name="uq_service_entries_provider_name"
        ),
    )
    with op.batch_alter_table("service_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_entries_provider_organisation_id"),
            ["provider_organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_service_entries_service_type"), ["service_type"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_entries_service_type"))
        batch_op.drop_index(batch_op.f("ix_service_entries_provider_organisation_id"))

    op.drop_table("service_entries")

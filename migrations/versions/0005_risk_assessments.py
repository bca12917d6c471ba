"""Risk: assessments (pinned instrument versions), published instrument versions,
case incidents and external licensed-tool records.

Submitted assessments and published versions are immutable; the models refuse
any UPDATE of them (app/risk/models.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 07:16:00.959939
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instrument_definitions",
        sa.Column("code", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=False),
        sa.Column("published_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["users.id"],
            name=op.f("fk_instrument_definitions_published_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_definitions")),
        sa.UniqueConstraint("code", "version", name="uq_instrument_definitions_code_version"),
    )
    op.create_table(
        "assessments",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("instrument_code", sa.String(length=63), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("instrument_hash", sa.String(length=80), nullable=False),
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("judgement", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("risk_level", sa.String(length=10), nullable=True),
        sa.Column("referral_criteria_met", sa.Boolean(), nullable=True),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.Column("assessed_on", sa.Date(), nullable=True),
        sa.Column("assessor_id", sa.Uuid(), nullable=False),
        sa.Column("assessor_name", sa.String(length=200), nullable=False),
        sa.Column("assessor_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("submitted_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
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
            ["assessor_id"],
            ["users.id"],
            name=op.f("fk_assessments_assessor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["assessor_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_assessments_assessor_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_assessments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["users.id"],
            name=op.f("fk_assessments_submitted_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessments_case_id_created_at", ["case_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_assessments_case_id_scheme_submitted_at",
            ["case_id", "scheme", "submitted_at"],
            unique=False,
        )

    op.create_table(
        "case_incidents",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("police_reported", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_by_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_incidents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["users.id"],
            name=op.f("fk_case_incidents_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_case_incidents_recorded_by_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_incidents")),
    )
    with op.batch_alter_table("case_incidents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_incidents_case_id_created_at", ["case_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_case_incidents_case_id_occurred_on", ["case_id", "occurred_on"], unique=False
        )

    op.create_table(
        "external_assessments",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("tool", sa.String(length=20), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("assessor", sa.String(length=200), nullable=False),
        sa.Column("summary_rating", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_by_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_external_assessments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["users.id"],
            name=op.f("fk_external_assessments_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_external_assessments_recorded_by_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_assessments")),
    )
    with op.batch_alter_table("external_assessments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_external_assessments_case_id_created_at",
            ["case_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("external_assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_external_assessments_case_id_created_at")

    op.drop_table("external_assessments")
    with op.batch_alter_table("case_incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_case_incidents_case_id_occurred_on")
        batch_op.drop_index("ix_case_incidents_case_id_created_at")

    op.drop_table("case_incidents")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_assessments_case_id_scheme_submitted_at")
        batch_op.drop_index("ix_assessments_case_id_created_at")

    op.drop_table("assessments")
    op.drop_table("instrument_definitions")

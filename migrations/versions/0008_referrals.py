"""Referrals: a case's referral of a participant to a service, and its history.

``referrals.shared_enc`` holds the AES-GCM envelope of what was shared with the
receiving service (text); its type in the models is app.platform.crypto.EncryptedText.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 08:49:46.523622
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("subject_person_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("provider_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("shared_fields", sa.JSON(), nullable=False),
        sa.Column("note_to_provider", sa.Text(), nullable=True),
        sa.Column("shared_enc", sa.Text(), nullable=True),
        sa.Column("basis_id", sa.Uuid(), nullable=False),
        sa.Column("basis_kind", sa.String(length=50), nullable=False),
        sa.Column("measure_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("held_from", sa.String(length=20), nullable=True),
        sa.Column("reason_code", sa.String(length=30), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("outcome_text", sa.Text(), nullable=True),
        sa.Column("requested_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("response_due_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "expiry_acknowledged_at", app.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_by_organisation_id", sa.Uuid(), nullable=False),
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
            ["basis_id"],
            ["person_consents.id"],
            name=op.f("fk_referrals_basis_id_person_consents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_referrals_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_referrals_created_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_referrals_created_by_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["plan_measures.id"],
            name=op.f("fk_referrals_measure_id_plan_measures"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_referrals_provider_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service_entries.id"],
            name=op.f("fk_referrals_service_id_service_entries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subject_person_id"],
            ["persons.id"],
            name=op.f("fk_referrals_subject_person_id_persons"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index("ix_referrals_case", ["case_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_referrals_provider_status",
            ["provider_organisation_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_referrals_status_due", ["status", "response_due_at"], unique=False
        )
        batch_op.create_index("ix_referrals_status_expires", ["status", "expires_at"], unique=False)

    op.create_table(
        "referral_events",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("actor_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("reason_code", sa.String(length=30), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("occurred_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_referral_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["actor_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_referral_events_actor_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_events_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_events")),
    )
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_events_referral", ["referral_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_events_referral")

    op.drop_table("referral_events")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_status_expires")
        batch_op.drop_index("ix_referrals_status_due")
        batch_op.drop_index("ix_referrals_provider_status")
        batch_op.drop_index("ix_referrals_case")

    op.drop_table("referrals")

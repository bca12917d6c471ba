"""Persons: identity code (blind index + sealed), protected fields, versions, consents;
concerns; must-not-receive lists.

Protected columns hold AES-GCM envelopes (text); their type in the models is
app.platform.crypto.EncryptedText, which is TEXT in the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:45:05.344922
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_exclusions",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=False),
        sa.Column("removed_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint(
            "(person_id IS NULL) <> (organisation_id IS NULL)",
            name=op.f("ck_case_exclusions_one_party"),
        ),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["users.id"],
            name=op.f("fk_case_exclusions_added_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_exclusions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_case_exclusions_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_case_exclusions_person_id_persons"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["removed_by"],
            ["users.id"],
            name=op.f("fk_case_exclusions_removed_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_exclusions")),
    )
    with op.batch_alter_table("case_exclusions", schema=None) as batch_op:
        batch_op.create_index("ix_case_exclusions_case_id", ["case_id", "created_at"], unique=False)

    op.create_table(
        "concerns",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("subject_given_name", sa.String(length=200), nullable=False),
        sa.Column("subject_family_name", sa.String(length=200), nullable=False),
        sa.Column("subject_birth_date", sa.Date(), nullable=True),
        sa.Column("matched_existing", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(length=50), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_changed_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Uuid(), nullable=False),
        sa.Column("submitter_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("screened_by", sa.Uuid(), nullable=True),
        sa.Column("screened_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
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
            ["case_id"], ["cases.id"], name=op.f("fk_concerns_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_concerns_person_id_persons"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["screened_by"],
            ["users.id"],
            name=op.f("fk_concerns_screened_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["users.id"],
            name=op.f("fk_concerns_submitted_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitter_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_concerns_submitter_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_concerns_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concerns")),
    )
    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.create_index("ix_concerns_person_id", ["person_id"], unique=False)
        batch_op.create_index(
            "ix_concerns_submitted_by_created_at",
            ["submitted_by", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_concerns_team_id_created_at", ["team_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "person_consents",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(length=50), nullable=False),
        sa.Column("scope", sa.String(length=30), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=True),
        sa.Column("given_by", sa.String(length=10), nullable=True),
        sa.Column("guardian_person_id", sa.Uuid(), nullable=True),
        sa.Column("minor_has_capacity", sa.Boolean(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("obtained_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("obtained_by", sa.Uuid(), nullable=False),
        sa.Column("obtained_by_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("withdrawn_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_recorded_by", sa.Uuid(), nullable=True),
        sa.Column("withdrawal_note", sa.Text(), nullable=True),
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
            ["guardian_person_id"],
            ["persons.id"],
            name=op.f("fk_person_consents_guardian_person_id_persons"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["obtained_by"],
            ["users.id"],
            name=op.f("fk_person_consents_obtained_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["obtained_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_person_consents_obtained_by_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_person_consents_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_recorded_by"],
            ["users.id"],
            name=op.f("fk_person_consents_withdrawn_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_consents")),
    )
    with op.batch_alter_table("person_consents", schema=None) as batch_op:
        batch_op.create_index("ix_person_consents_person_id", ["person_id", "scope"], unique=False)

    op.create_table(
        "person_versions",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("snapshot_enc", sa.Text(), nullable=False),
        sa.Column("created_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_person_versions_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["author_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_person_versions_author_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_person_versions_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_versions")),
        sa.UniqueConstraint("person_id", "version", name="uq_person_versions_person_version"),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_language", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("identity_code_index", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("identity_code_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("address_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("phones_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("safe_contact_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("non_disclosure_enc", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_persons_family_name_birth_date", ["family_name", "birth_date"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_persons_identity_code_index"), ["identity_code_index"]
        )


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_persons_identity_code_index"), type_="unique")
        batch_op.drop_index("ix_persons_family_name_birth_date")
        batch_op.drop_column("non_disclosure_enc")
        batch_op.drop_column("safe_contact_enc")
        batch_op.drop_column("phones_enc")
        batch_op.drop_column("address_enc")
        batch_op.drop_column("identity_code_enc")
        batch_op.drop_column("identity_code_index")
        batch_op.drop_column("preferred_language")

    op.drop_table("person_versions")
    with op.batch_alter_table("person_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_person_consents_person_id")

    op.drop_table("person_consents")
    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.drop_index("ix_concerns_team_id_created_at")
        batch_op.drop_index("ix_concerns_submitted_by_created_at")
        batch_op.drop_index("ix_concerns_person_id")

    op.drop_table("concerns")
    with op.batch_alter_table("case_exclusions", schema=None) as batch_op:
        batch_op.drop_index("ix_case_exclusions_case_id")

    op.drop_table("case_exclusions")

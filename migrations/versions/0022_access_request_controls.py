"""Access requests scoped to the controller organisation, four-eyes extensions and
delivery hashes; legal-hold grounds as codes plus a matter reference.

Existing access requests get the organisation of the auditor who recorded them.

Existing legal holds had a free-text ground (up to 300 characters). They become
``ground = 'other'`` (``lift_ground = 'other'`` when lifted). The old text is kept
as the new ``reference`` only when it already is one (it matches the reference
pattern: one or two tokens with a digit, 40 characters at most, e.g. "Matter
7/2026"); any other text is dropped, not truncated: a cut narrative is still a
narrative and may name a third person, which the coded ground exists to keep out.
Such a hold still stands (retention still skips its target); its reference is
empty (NULL) and the auditor re-records it by lifting and re-placing the hold
with a reference. Downgrading puts the code and reference back together as text.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 21:00:00.000000
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

import app.platform.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_T = "[0-9A-Za-zÅÄÖåäö/._:-]"
_D = f"[A-Za-zÅÄÖåäö/._:-]*[0-9]{_T}*"
#: Frozen copy of app/retention/schemas.py REFERENCE_PATTERN at this revision.
REFERENCE = re.compile(f"^({_D}( {_T}+)?|{_T}+ {_D})$")


def _reference(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= 40 and REFERENCE.match(text) else None


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("extension_proposed_reason", sa.String(length=30), nullable=True)
        )
        batch_op.add_column(sa.Column("extension_proposed_by", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "extension_proposed_at",
                app.platform.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("extended_by", sa.Uuid(), nullable=True))
    bind.execute(
        sa.text(
            "UPDATE access_requests SET organisation_id = "
            "(SELECT users.organisation_id FROM users WHERE users.id = access_requests.recorded_by)"
        )
    )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.alter_column("organisation_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_access_requests_organisation_id_organisations"),
            "organisations",
            ["organisation_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_requests_extension_proposed_by_users"),
            "users",
            ["extension_proposed_by"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_requests_extended_by_users"),
            "users",
            ["extended_by"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index(
            "ix_access_requests_organisation_created",
            ["organisation_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "access_request_deliveries",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("delivered_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivered_by"],
            ["users.id"],
            name=op.f("fk_access_request_deliveries_delivered_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_access_request_deliveries_request_id_access_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_request_deliveries")),
    )
    with op.batch_alter_table("access_request_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_access_request_deliveries_request", ["request_id", "delivered_at"], unique=False
        )

    # Legal holds: free text -> code + reference (see the module docstring).
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("lift_reference", sa.String(length=40), nullable=True))
    holds = bind.execute(sa.text("SELECT id, ground, lift_ground FROM legal_holds")).all()
    for hold_id, ground, lift_ground in holds:
        bind.execute(
            sa.text(
                "UPDATE legal_holds SET ground = 'other', reference = :ref, "
                "lift_ground = :lift, lift_reference = :lift_ref WHERE id = :id"
            ),
            {
                "id": hold_id,
                "ref": _reference(ground),
                "lift": None if lift_ground is None else "other",
                "lift_ref": _reference(lift_ground),
            },
        )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.alter_column(
            "ground", existing_type=sa.String(length=300), type_=sa.String(length=30)
        )
        batch_op.alter_column(
            "lift_ground",
            existing_type=sa.String(length=300),
            type_=sa.String(length=30),
            existing_nullable=True,
        )


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.alter_column(
            "ground", existing_type=sa.String(length=30), type_=sa.String(length=300)
        )
        batch_op.alter_column(
            "lift_ground",
            existing_type=sa.String(length=30),
            type_=sa.String(length=300),
            existing_nullable=True,
        )
    rows = bind.execute(
        sa.text("SELECT id, ground, reference, lift_ground, lift_reference FROM legal_holds")
    ).all()
    for hold_id, ground, reference, lift_ground, lift_reference in rows:
        bind.execute(
            sa.text("UPDATE legal_holds SET ground = :g, lift_ground = :l WHERE id = :id"),
            {
                "id": hold_id,
                "g": f"{ground} {reference}" if reference else ground,
                "l": None
                if lift_ground is None
                else (f"{lift_ground} {lift_reference}" if lift_reference else lift_ground),
            },
        )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_column("lift_reference")
        batch_op.drop_column("reference")

    with op.batch_alter_table("access_request_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_access_request_deliveries_request")
    op.drop_table("access_request_deliveries")
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_access_requests_organisation_created")
        batch_op.drop_constraint(
            batch_op.f("fk_access_requests_extended_by_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_access_requests_extension_proposed_by_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_access_requests_organisation_id_organisations"), type_="foreignkey"
        )
        batch_op.drop_column("extended_by")
        batch_op.drop_column("extension_proposed_at")
        batch_op.drop_column("extension_proposed_by")
        batch_op.drop_column("extension_proposed_reason")
        batch_op.drop_column("organisation_id")

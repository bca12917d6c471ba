"""Why an agreed plan was reopened: sealed on the new draft under the case key.

Before this revision the reason went, as free text, into the audit row's
purpose, which must hold no content (and is never shredded). Existing audit
rows keep what they hold; new ones record the standard purpose.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_versions") as batch_op:
        batch_op.add_column(sa.Column("revision_reason_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_versions") as batch_op:
        batch_op.drop_column("revision_reason_enc")

"""The access log becomes a hash chain (issue 15; app/audit/chain.py).

New, nullable chain columns, set once by the sealer. The append-only guard is
replaced by one that allows exactly that: an UPDATE that takes every chain
column from NULL to a value and changes nothing else. Every other UPDATE, every
DELETE (and TRUNCATE on PostgreSQL) is still refused.

Existing rows are left unsealed: the sealer (app lifespan, or ``casecoord
audit seal``) chains them in (occurred_at, id) order on its first run.

Retention hook (issue 15 section 4, not implemented here): on PostgreSQL a
DELETE is let through only for a row already sealed into the period named by
the session setting ``casecoord.audit_retention_period`` (``SET LOCAL`` inside
the retention transaction). Removing a period breaks the chain at the next
period's first row until retention leaves a stub (head hash and row count), so
``audit verify`` still reports any use of it. On SQLite, retention drops and
re-creates ``audit_events_no_delete`` inside its own transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CHAIN = ("chain_seq", "chain_period", "chain_version", "prev_hash", "row_hash")
#: Every other column as of this revision: a later column must be added here.
CONTENT = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_organisation",
    "actor_roles",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "purpose",
    "emergency_grant_id",
    "request_id",
    "client_ip",
)

PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.chain_seq IS NULL AND OLD.chain_period IS NULL AND OLD.chain_version IS NULL
           AND OLD.prev_hash IS NULL AND OLD.row_hash IS NULL
           AND NEW.chain_seq IS NOT NULL AND NEW.chain_period IS NOT NULL
           AND NEW.chain_version IS NOT NULL AND NEW.prev_hash IS NOT NULL
           AND NEW.row_hash IS NOT NULL
           AND (to_jsonb(NEW) - ARRAY['chain_seq', 'chain_period', 'chain_version',
                                      'prev_hash', 'row_hash'])
             = (to_jsonb(OLD) - ARRAY['chain_seq', 'chain_period', 'chain_version',
                                      'prev_hash', 'row_hash'])
        THEN
            RETURN NEW;  -- the sealer: chain columns NULL -> value, nothing else
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.chain_period IS NOT NULL
           AND OLD.chain_period = current_setting('casecoord.audit_retention_period', true)
        THEN
            RETURN OLD;  -- retention hook (issue 15 section 4); verify still sees it
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""

PG_PLAIN_GUARD = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""

REFUSE = "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"


def _sqlite_seal_only() -> str:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in CONTENT)
    was_null = " AND ".join(f"OLD.{c} IS NULL" for c in CHAIN)
    now_set = " AND ".join(f"NEW.{c} IS NOT NULL" for c in CHAIN)
    return (
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        f"WHEN NOT ({was_null} AND {now_set} AND {unchanged}) {REFUSE}"
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # plain ALTER TABLE ADD COLUMN keeps the table (and its triggers)
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    op.add_column("audit_events", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("chain_period", sa.String(7), nullable=True))
    op.add_column("audit_events", sa.Column("chain_version", sa.SmallInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("row_hash", sa.String(64), nullable=True))
    op.create_index("ix_audit_events_chain_seq", "audit_events", ["chain_seq"], unique=True)
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["occurred_at", "id"],
        unique=False,
        postgresql_where=sa.text("row_hash IS NULL"),
        sqlite_where=sa.text("row_hash IS NULL"),
    )
    if sqlite:
        op.execute(_sqlite_seal_only())
    else:
        op.execute(PG_GUARD)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        # DROP COLUMN rebuilds nothing on SQLite >= 3.35 but refuses indexed columns.
    else:
        op.execute(PG_PLAIN_GUARD)
    op.drop_index("ix_audit_events_unsealed", table_name="audit_events")
    op.drop_index("ix_audit_events_chain_seq", table_name="audit_events")
    for column in reversed(CHAIN):
        op.drop_column("audit_events", column)
    if sqlite:
        op.execute(f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events {REFUSE}")

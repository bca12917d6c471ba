"""Identity is shared, facts are per case: address, phones and safe contact move
from ``persons`` into ``person_case_facts`` (one row per case and person, with
its own sealed history); identity versions record the case they were made
through; every consent or legal basis is bound to a case (and may name a
service directory entry).

Moving the data (sealed values are bound to row id and column, so each is
opened with the app's key ring and sealed again for its new row):

- a person's current facts are copied into *every* case the person takes or
  took part in (removed participations included: nothing is lost; a removed
  participation does not let anyone read them). Each copy gets one history
  version, authored by whoever recorded the person, reason "moved";
- an identity version is attributed to a case of the person the author was a
  member of, else one owned by the author's organisation, else none (then it
  is shown to nobody). Old snapshots keep the facts they held, sealed; the
  history shows only identity fields from them;
- a consent goes to the person's cases whose owner, team or members include
  the organisation that obtained it (a referral's case first, if a referral
  rests on it), else to every case of the person; the first keeps the row,
  the others get copies.

A person with facts or consents but no case at all cannot be placed; the
upgrade then stops rather than drop them. The key ring is taken from the
Alembic config attribute ``keyring`` (app.ops.migrate.upgrade passes it) or
loaded from the settings.

The downgrade is lossy: each person gets back the facts of the case whose
facts changed last, consent copies stay as separate rows, and the per-case
histories are dropped.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.platform.db
from app.platform.crypto import EncryptedText, FieldContext, KeyRing

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FACTS = ("address_enc", "phones_enc", "safe_contact_enc")
FACT_NAMES = {"address_enc": "address", "phones_enc": "phones", "safe_contact_enc": "safe_contact"}
TS = app.platform.db.UTCDateTime(timezone=True)


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _keyring_loader() -> Callable[[], KeyRing]:
    given = op.get_context().config.attributes.get("keyring") if op.get_context().config else None
    cache: list[KeyRing] = []

    def load() -> KeyRing:
        if not cache:
            if given is not None:
                cache.append(given() if callable(given) else given)
            else:
                from app.platform.config import get_settings
                from app.platform.crypto import load_keyring

                cache.append(load_keyring(get_settings()))
        return cache[0]

    return load


persons_t = sa.table(
    "persons",
    sa.column("id", sa.Uuid()),
    sa.column("created_by", sa.Uuid()),
    *(sa.column(c, EncryptedText()) for c in FACTS),
)
facts_t = sa.table(
    "person_case_facts",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("person_id", sa.Uuid()),
    sa.column("created_at", TS),
    sa.column("updated_at", TS),
    sa.column("version", sa.Integer()),
    *(sa.column(c, EncryptedText()) for c in FACTS),
)
fact_versions_t = sa.table(
    "person_case_fact_versions",
    sa.column("id", sa.Uuid()),
    sa.column("facts_id", sa.Uuid()),
    sa.column("version", sa.Integer()),
    sa.column("author_id", sa.Uuid()),
    sa.column("author_name", sa.String()),
    sa.column("author_organisation_id", sa.Uuid()),
    sa.column("reason", sa.Text()),
    sa.column("changed_fields", sa.JSON()),
    sa.column("snapshot_enc", EncryptedText()),
    sa.column("created_at", TS),
)
participants_t = sa.table(
    "case_participants",
    sa.column("case_id", sa.Uuid()),
    sa.column("person_id", sa.Uuid()),
    sa.column("created_at", TS),
)
cases_t = sa.table(
    "cases",
    sa.column("id", sa.Uuid()),
    sa.column("owner_organisation_id", sa.Uuid()),
    sa.column("team_id", sa.Uuid()),
)
teams_t = sa.table("teams", sa.column("id", sa.Uuid()), sa.column("organisation_id", sa.Uuid()))
members_t = sa.table(
    "case_members", sa.column("case_id", sa.Uuid()), sa.column("user_id", sa.Uuid())
)
users_t = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("organisation_id", sa.Uuid()),
)
versions_t = sa.table(
    "person_versions",
    sa.column("id", sa.Uuid()),
    sa.column("person_id", sa.Uuid()),
    sa.column("author_id", sa.Uuid()),
    sa.column("author_organisation_id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
)
referrals_t = sa.table(
    "referrals", sa.column("basis_id", sa.Uuid()), sa.column("case_id", sa.Uuid())
)


def _cases_of(bind: sa.Connection, person_id: uuid.UUID) -> list[uuid.UUID]:
    """The person's cases in the order they were attached (each once)."""
    rows = bind.execute(
        sa.select(participants_t.c.case_id)
        .where(participants_t.c.person_id == person_id)
        .order_by(participants_t.c.created_at, participants_t.c.case_id)
    ).scalars()
    return list(dict.fromkeys(rows))


def _move_facts(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> None:
    now = datetime.now(UTC)
    rows = bind.execute(
        sa.select(persons_t).where(sa.or_(*(persons_t.c[c].is_not(None) for c in FACTS)))
    ).all()
    for row in rows:
        ring = keyring()
        opened = {
            c: ring.open_json(row._mapping[c], FieldContext("persons", row.id, c))
            for c in FACTS
            if row._mapping[c] is not None
        }
        cases = _cases_of(bind, row.id)
        if not cases:
            raise RuntimeError(f"person {row.id} has facts but no case to move them into")
        author = bind.execute(sa.select(users_t).where(users_t.c.id == row.created_by)).one()
        for case_id in cases:
            facts_id, version_id = uuid.uuid4(), uuid.uuid4()
            sealed = {
                c: ring.seal_json(v, FieldContext("person_case_facts", facts_id, c))
                for c, v in opened.items()
            }
            bind.execute(
                facts_t.insert().values(
                    id=facts_id,
                    case_id=case_id,
                    person_id=row.id,
                    created_at=now,
                    updated_at=now,
                    version=1,
                    **sealed,
                )
            )
            state = {FACT_NAMES[c]: opened.get(c) for c in FACTS}
            state["phones"] = state["phones"] or []
            snapshot = ring.seal_json(
                state, FieldContext("person_case_fact_versions", version_id, "snapshot_enc")
            )
            bind.execute(
                fact_versions_t.insert().values(
                    id=version_id,
                    facts_id=facts_id,
                    version=1,
                    author_id=author.id,
                    author_name=author.name[:200],
                    author_organisation_id=author.organisation_id,
                    reason="Moved from the person record into this case (migration 0010).",
                    changed_fields=sorted(FACT_NAMES[c] for c in opened),
                    snapshot_enc=snapshot,
                    created_at=now,
                )
            )


def _attribute_versions(bind: sa.Connection) -> None:
    for row in bind.execute(sa.select(versions_t)).all():
        cases = _cases_of(bind, row.person_id)
        if not cases:
            continue
        member_of = set(
            bind.execute(
                sa.select(members_t.c.case_id).where(
                    members_t.c.user_id == row.author_id, members_t.c.case_id.in_(cases)
                )
            ).scalars()
        )
        owned = set(
            bind.execute(
                sa.select(cases_t.c.id).where(
                    cases_t.c.id.in_(cases),
                    cases_t.c.owner_organisation_id == row.author_organisation_id,
                )
            ).scalars()
        )
        chosen = next((c for c in cases if c in member_of), None)
        chosen = chosen or next((c for c in cases if c in owned), None)
        if chosen is not None:
            bind.execute(
                versions_t.update().where(versions_t.c.id == row.id).values(case_id=chosen)
            )


def _org_cases(bind: sa.Connection, cases: list[uuid.UUID], org: uuid.UUID) -> set[uuid.UUID]:
    """Of ``cases``, those whose owner, team or members include ``org``."""
    by_case = sa.select(cases_t.c.id).where(
        cases_t.c.id.in_(cases), cases_t.c.owner_organisation_id == org
    )
    by_team = (
        sa.select(cases_t.c.id)
        .join(teams_t, teams_t.c.id == cases_t.c.team_id)
        .where(cases_t.c.id.in_(cases), teams_t.c.organisation_id == org)
    )
    by_member = (
        sa.select(members_t.c.case_id)
        .join(users_t, users_t.c.id == members_t.c.user_id)
        .where(members_t.c.case_id.in_(cases), users_t.c.organisation_id == org)
    )
    return set(bind.execute(sa.union(by_case, by_team, by_member)).scalars())


def _bind_consents(bind: sa.Connection) -> None:
    consents_t = sa.Table("person_consents", sa.MetaData(), autoload_with=bind)
    for column in consents_t.columns:  # SQLite reflects UUIDs as CHAR(32), datetimes naive
        if isinstance(column.type, sa.CHAR) and column.type.length == 32:
            column.type = sa.Uuid()
        elif isinstance(column.type, sa.DateTime):
            column.type = TS
    for row in bind.execute(sa.select(consents_t)).all():
        cases = _cases_of(bind, row.person_id)
        if not cases:
            raise RuntimeError(f"consent {row.id} belongs to a person in no case")
        ours = _org_cases(bind, cases, row.obtained_by_organisation_id)
        targets = [c for c in cases if c in ours] or cases
        referred = bind.execute(
            sa.select(referrals_t.c.case_id).where(referrals_t.c.basis_id == row.id).limit(1)
        ).scalar()
        if referred is not None:
            targets = [referred, *(c for c in targets if c != referred)]
        bind.execute(
            consents_t.update().where(consents_t.c.id == row.id).values(case_id=targets[0])
        )
        for case_id in targets[1:]:
            copy = dict(row._mapping)
            copy.update(id=uuid.uuid4(), case_id=case_id)
            bind.execute(consents_t.insert().values(**copy))


def upgrade() -> None:
    op.create_table(
        "person_case_facts",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("address_enc", sa.Text(), nullable=True),
        sa.Column("phones_enc", sa.Text(), nullable=True),
        sa.Column("safe_contact_enc", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_person_case_facts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_person_case_facts_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_case_facts")),
        sa.UniqueConstraint("case_id", "person_id", name="uq_person_case_facts_case_person"),
    )
    with op.batch_alter_table("person_case_facts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_case_facts_person_id"), ["person_id"], unique=False
        )
    op.create_table(
        "person_case_fact_versions",
        sa.Column("facts_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("snapshot_enc", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_person_case_fact_versions_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["author_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_person_case_fact_versions_author_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["facts_id"],
            ["person_case_facts.id"],
            name=op.f("fk_person_case_fact_versions_facts_id_person_case_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_case_fact_versions")),
        sa.UniqueConstraint(
            "facts_id", "version", name="uq_person_case_fact_versions_facts_version"
        ),
    )
    with op.batch_alter_table("person_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_person_versions_case_id"), ["case_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_person_versions_case_id_cases"),
            "cases",
            ["case_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("person_consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("service_id", sa.Uuid(), nullable=True))

    bind = op.get_bind()
    _move_facts(bind, _keyring_loader())
    _attribute_versions(bind)
    _bind_consents(bind)

    with op.batch_alter_table("person_consents", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_index(
            "ix_person_consents_case_id", ["case_id", "person_id", "scope"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_person_consents_case_id_cases"),
            "cases",
            ["case_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_person_consents_service_id_service_entries"),
            "service_entries",
            ["service_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        for column in FACTS:
            batch_op.drop_column(column)


def _restore_facts(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> None:
    """Lossy: each person gets back the facts of the case whose facts changed last."""
    rows = bind.execute(
        sa.select(facts_t).order_by(facts_t.c.person_id, facts_t.c.updated_at.desc())
    ).all()
    done: set[uuid.UUID] = set()
    for row in rows:
        if row.person_id in done:
            continue
        done.add(row.person_id)
        ring = keyring()
        values = {}
        for c in FACTS:
            sealed = row._mapping[c]
            if sealed is not None:
                value = ring.open_json(sealed, FieldContext("person_case_facts", row.id, c))
                values[c] = ring.seal_json(value, FieldContext("persons", row.person_id, c))
        if values:
            bind.execute(persons_t.update().where(persons_t.c.id == row.person_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        for column in FACTS:
            batch_op.add_column(sa.Column(column, sa.Text(), nullable=True))
    _restore_facts(op.get_bind(), _keyring_loader())
    with op.batch_alter_table("person_consents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_person_consents_service_id_service_entries"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_person_consents_case_id_cases"), type_="foreignkey")
        batch_op.drop_index("ix_person_consents_case_id")
        batch_op.drop_column("service_id")
        batch_op.drop_column("case_id")
    with op.batch_alter_table("person_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_person_versions_case_id_cases"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_person_versions_case_id"))
        batch_op.drop_column("case_id")
    op.drop_table("person_case_fact_versions")
    with op.batch_alter_table("person_case_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_case_facts_person_id"))
    op.drop_table("person_case_facts")

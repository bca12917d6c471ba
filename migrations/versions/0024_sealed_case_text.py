"""More case free text sealed under the case's data key (issue 15), as 0021 did
for notes and minutes: the case's summary and closure reason, a transition's
reasons, why a member was invited, why a party is excluded, an incident's note,
an outside assessment's reference, a plan version's summary, contacts and
measures snapshot (JSON, sealed whole), a measure's description.

Adds a sealed ``<name>_enc`` column next to each plaintext one and makes the
plaintext nullable. A migration holds no key: the values already written stay
in plain text until ``casecoord keys rotate`` seals them under their case keys
and empties the plaintext (app/casekeys/freetext.py, LEGACY_PLAINTEXT); the
application reads both meanwhile.

The downgrade opens the sealed values and writes them back in plain text; it
refuses when a case was shredded (its text is gone, the older code needs it).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.platform.crypto import CaseCipher, FieldContext, KeyRing, Sealed

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_TEXT = sa.Text()
#: table -> ((plaintext column, its type, plaintext was NOT NULL), ...); sealed: ``<name>_enc``.
SEALED: dict[str, tuple[tuple[str, Any, bool], ...]] = {
    "cases": (("summary", _TEXT, False), ("closure_reason", _TEXT, False)),
    "case_transitions": (("reason", _TEXT, False), ("no_consent_reason", _TEXT, False)),
    "case_members": (("invite_reason", _TEXT, False),),
    "case_exclusions": (("reason", _TEXT, True),),
    "case_incidents": (("note", sa.String(500), False),),
    "external_assessments": (("reference", sa.String(200), True),),
    "plan_versions": (
        ("summary", _TEXT, False),
        ("contacts", sa.JSON(), True),
        ("measures_snapshot", sa.JSON(), False),
    ),
    "plan_measures": (("description", _TEXT, True),),
}
#: How a row finds its case: its own column, or (fk column, parent table with case_id).
CASE_OF: dict[str, str | tuple[str, str]] = {
    "cases": "id",
    "plan_versions": ("plan_id", "plans"),
}


def upgrade() -> None:
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for plain, kind, required in columns:
                batch_op.add_column(sa.Column(f"{plain}_enc", sa.Text(), nullable=True))
                if required:
                    batch_op.alter_column(plain, existing_type=kind, nullable=True)


def _keyring_loader() -> Callable[[], KeyRing]:
    config = op.get_context().config
    given = config.attributes.get("keyring") if config is not None else None
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


def _ciphers(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> Callable[[Any], CaseCipher]:
    keys_t = sa.table(
        "case_keys",
        sa.column("case_id", sa.Uuid()),
        sa.column("wrapped_key", sa.Text()),
        sa.column("destroyed_at", sa.DateTime()),
    )
    ciphers: dict[Any, CaseCipher] = {}

    def cipher(case_id: Any) -> CaseCipher:
        if case_id not in ciphers:
            row = bind.execute(sa.select(keys_t).where(keys_t.c.case_id == case_id)).first()
            if row is None or row.destroyed_at is not None or row.wrapped_key is None:
                raise RuntimeError(
                    f"case {case_id} was shredded: its free text is gone and cannot be "
                    "written back in plain text, so revision 0024 cannot be downgraded"
                )
            ring = keyring()
            key = ring.unwrap_data_key(case_id, Sealed(row.wrapped_key))
            ciphers[case_id] = CaseCipher(case_id, ring, key)
        return ciphers[case_id]

    return cipher


def _unseal(bind: sa.Connection, keyring: Callable[[], KeyRing]) -> None:
    cipher = _ciphers(bind, keyring)
    for name, columns in SEALED.items():
        table = sa.table(
            name,
            sa.column("id", sa.Uuid()),
            *(sa.column(plain, kind) for plain, kind, _ in columns),
            *(sa.column(f"{plain}_enc", sa.Text()) for plain, _, _ in columns),
        )
        wanted = sa.or_(*(table.c[f"{plain}_enc"].is_not(None) for plain, _, _ in columns))
        how = CASE_OF.get(name, "case_id")
        if isinstance(how, tuple):
            fk, parent_name = how
            table.append_column(sa.column(fk, sa.Uuid()))
            parent = sa.table(
                parent_name, sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid())
            )
            stmt = sa.select(table, parent.c.case_id.label("owner")).join(
                parent, parent.c.id == table.c[fk]
            )
        else:
            if how != "id":
                table.append_column(sa.column(how, sa.Uuid()))
            stmt = sa.select(table, table.c[how].label("owner"))
        for row in bind.execute(stmt.where(wanted)).all():
            values = {}
            for plain, kind, _ in columns:
                token = row._mapping[f"{plain}_enc"]
                if token is None:
                    continue
                ctx = FieldContext(name, row.id, f"{plain}_enc")
                opener = cipher(row.owner)
                json = isinstance(kind, sa.JSON)
                values[plain] = (opener.open_json if json else opener.open)(Sealed(token), ctx)
            bind.execute(table.update().where(table.c.id == row.id).values(**values))


def downgrade() -> None:
    _unseal(op.get_bind(), _keyring_loader())
    for table, columns in SEALED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for plain, kind, required in columns:
                if required:
                    batch_op.alter_column(plain, existing_type=kind, nullable=False)
                batch_op.drop_column(f"{plain}_enc")

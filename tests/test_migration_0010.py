"""Migration 0010 moves each person's facts into their cases and binds consents to cases.

Builds the old state at revision 0009 on a scratch database (SQLite file, or a
fresh PostgreSQL database when CASECOORD_TEST_DATABASE_URL is set), seals
facts the old way (bound to the persons row), upgrades, and checks that every
value moved into every case of the person, opens there and nowhere else, and
that consents went to the case of the organisation that obtained them. Then
downgrades (lossy, see the migration) and checks the facts came back.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.ops.migrate import downgrade, upgrade
from app.platform.crypto import DecryptionError, EncryptedText, FieldContext, KeyRing, new_key_entry
from app.platform.db import UTCDateTime, make_engine
from tests.conftest import _in_thread, scratch_database

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADDRESS = {"street": "Turvakoti 1", "is_shelter": True}
PHONES = [{"number": "+358 40 123", "safe_to_call": False}]
SAFE = {"safe_times": "Mornings", "feared_persons": "Ex-partner"}


@pytest.fixture
def scratch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "m0010", migrate=False) as url:
        yield url


def _run(url: str, fn: Any) -> Any:
    out: list[Any] = []

    async def go() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                out.append(await conn.run_sync(fn))
        finally:
            await engine.dispose()

    _in_thread(lambda: asyncio.run(go()))
    return out[0]


def _uuid_types(table: sa.Table) -> sa.Table:
    """SQLite reflects UUID columns as CHAR(32): give them back their type."""
    for column in table.columns:
        if isinstance(column.type, sa.CHAR) and column.type.length == 32:
            column.type = sa.Uuid()
        elif column.name.endswith(("_at",)) and isinstance(column.type, sa.DateTime):
            column.type = UTCDateTime(timezone=True)
        elif column.name.endswith("_enc"):
            column.type = EncryptedText()
    return table


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return {name: _uuid_types(table) for name, table in meta.tables.items()}


def _ts() -> dict[str, Any]:
    return {"created_at": NOW, "updated_at": NOW, "version": 1}


def build_old_state(conn: sa.Connection, ring: KeyRing) -> dict[str, uuid.UUID]:
    t = _tables(conn)
    ids = {
        k: uuid.uuid4()
        for k in (
            "org_a",
            "org_b",
            "org_c",
            "user_a",
            "user_b",
            "team_a",
            "team_b",
            "case_a",
            "case_b",
            "person",
            "consent",
            "consent_c",
            "version",
        )
    }
    for org in ("org_a", "org_b", "org_c"):
        conn.execute(
            t["organisations"]
            .insert()
            .values(id=ids[org], code=f"{org}-{ids[org].hex[:6]}", name=org, kind="police", **_ts())
        )
    for user, org in (("user_a", "org_a"), ("user_b", "org_b")):
        conn.execute(
            t["users"]
            .insert()
            .values(
                id=ids[user],
                issuer="https://idp.test",
                subject=f"{user}-{ids[user].hex[:6]}",
                name=f"Officer {user}",
                organisation_id=ids[org],
                roles=["police"],
                disabled=False,
                **_ts(),
            )
        )
    for team, org in (("team_a", "org_a"), ("team_b", "org_b")):
        conn.execute(
            t["teams"]
            .insert()
            .values(
                id=ids[team],
                name=team,
                kind="marak",
                organisation_id=ids[org],
                area="Helsinki",
                **_ts(),
            )
        )
    for case, team, org, user in (
        ("case_a", "team_a", "org_a", "user_a"),
        ("case_b", "team_b", "org_b", "user_b"),
    ):
        conn.execute(
            t["cases"]
            .insert()
            .values(
                id=ids[case],
                scheme="marak",
                team_id=ids[team],
                owner_organisation_id=ids[org],
                reference=f"MRK-{ids[case].hex[:8]}",
                status="intake",
                created_by=ids[user],
                **_ts(),
            )
        )
        conn.execute(
            t["case_members"]
            .insert()
            .values(
                id=uuid.uuid4(),
                case_id=ids[case],
                user_id=ids[user],
                case_role="lead",
                invited=False,
                added_by=ids[user],
                **_ts(),
            )
        )
    pid = ids["person"]
    sealed = {
        column: ring.seal_json(value, FieldContext("persons", pid, column))
        for column, value in (
            ("address_enc", ADDRESS),
            ("phones_enc", PHONES),
            ("safe_contact_enc", SAFE),
            ("non_disclosure_enc", True),
        )
    }
    persons = t["persons"]
    conn.execute(
        persons.insert().values(
            id=pid,
            given_name="Vilja",
            family_name="Virtanen",
            owner_organisation_id=ids["org_a"],
            created_by=ids["user_a"],
            **{c: sealed[c] for c in sealed},
            **_ts(),
        )
    )
    for case, user in (("case_a", "user_a"), ("case_b", "user_b")):
        conn.execute(
            t["case_participants"]
            .insert()
            .values(
                id=uuid.uuid4(),
                case_id=ids[case],
                person_id=pid,
                role="victim",
                added_by=ids[user],
                **_ts(),
            )
        )
    snapshot = ring.seal_json(
        {"given_name": "Vilja", "address": ADDRESS},
        FieldContext("person_versions", ids["version"], "snapshot_enc"),
    )
    conn.execute(
        t["person_versions"]
        .insert()
        .values(
            id=ids["version"],
            person_id=pid,
            version=1,
            author_id=ids["user_a"],
            author_name="Officer A",
            author_organisation_id=ids["org_a"],
            reason="recorded",
            changed_fields=["address"],
            snapshot_enc=snapshot,
            created_at=NOW,
        )
    )
    conn.execute(
        t["person_consents"]
        .insert()
        .values(
            id=ids["consent"],
            person_id=pid,
            basis="consent",
            scope="marak_sharing",
            given_by="person",
            method="written",
            obtained_at=NOW,
            obtained_by=ids["user_a"],
            obtained_by_organisation_id=ids["org_a"],
            **_ts(),
        )
    )
    # Obtained by an organisation with no part in either case: goes to both.
    conn.execute(
        t["person_consents"]
        .insert()
        .values(
            id=ids["consent_c"],
            person_id=pid,
            basis="police_statutory_duty",
            scope="hah_sharing",
            obtained_at=NOW,
            obtained_by=ids["user_a"],
            obtained_by_organisation_id=ids["org_c"],
            **_ts(),
        )
    )
    return ids


def _with_sealed_types(conn: sa.Connection, name: str) -> sa.Table:
    table = _uuid_types(sa.Table(name, sa.MetaData(), autoload_with=conn))
    for column in table.columns:
        if column.name.endswith("_enc"):
            column.type = EncryptedText()
    return table


def _read_new_state(conn: sa.Connection) -> dict[str, Any]:
    facts = _with_sealed_types(conn, "person_case_facts")
    versions = _with_sealed_types(conn, "person_case_fact_versions")
    return {
        "facts": [dict(r._mapping) for r in conn.execute(sa.select(facts))],
        "fact_versions": [dict(r._mapping) for r in conn.execute(sa.select(versions))],
        "person_columns": {c["name"] for c in sa.inspect(conn).get_columns("persons")},
        "consents": [
            dict(r._mapping)
            for r in conn.execute(sa.text("SELECT id, case_id FROM person_consents"))
        ],
        "versions": [
            dict(r._mapping)
            for r in conn.execute(sa.text("SELECT id, case_id FROM person_versions"))
        ],
    }


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def test_facts_move_into_every_case_and_consents_to_their_case(scratch_url: str) -> None:
    index_key = base64.b64encode(secrets.token_bytes(32)).decode()
    ring = KeyRing.from_spec(new_key_entry("m1"), index_key)
    _in_thread(lambda: upgrade(scratch_url, "0009"))
    ids = _run(scratch_url, lambda conn: build_old_state(conn, ring))
    _in_thread(lambda: upgrade(scratch_url, "head", keyring=ring))
    state = _run(scratch_url, _read_new_state)

    assert {"address_enc", "phones_enc", "safe_contact_enc"}.isdisjoint(state["person_columns"])
    assert "non_disclosure_enc" in state["person_columns"]  # identity stays
    by_case = {_uuid(f["case_id"]): f for f in state["facts"]}
    assert set(by_case) == {ids["case_a"], ids["case_b"]}
    for case_id, row in by_case.items():
        fid = _uuid(row["id"])
        assert _uuid(row["person_id"]) == ids["person"] and row["version"] == 1
        opened = {
            c: ring.open_json(row[c], FieldContext("person_case_facts", fid, c))
            for c in ("address_enc", "phones_enc", "safe_contact_enc")
        }
        assert opened == {"address_enc": ADDRESS, "phones_enc": PHONES, "safe_contact_enc": SAFE}
        # Bound to the new row: it does not open as the old person row any more.
        with pytest.raises(DecryptionError):
            ring.open(row["address_enc"], FieldContext("persons", ids["person"], "address_enc"))
        (version,) = [v for v in state["fact_versions"] if _uuid(v["facts_id"]) == fid]
        snapshot = ring.open_json(
            version["snapshot_enc"],
            FieldContext("person_case_fact_versions", _uuid(version["id"]), "snapshot_enc"),
        )
        assert snapshot == {"address": ADDRESS, "phones": PHONES, "safe_contact": SAFE}, case_id
    # The consent obtained by organisation A went to A's case only.
    consents = {(_uuid(c["id"]), _uuid(c["case_id"])) for c in state["consents"]}
    assert (ids["consent"], ids["case_a"]) in consents
    assert [c for c in consents if c[0] == ids["consent"]] == [(ids["consent"], ids["case_a"])]
    # The other organisation's basis: the original row in one case, a copy in the other.
    others = consents - {(ids["consent"], ids["case_a"])}
    assert sorted(case for _id, case in others) == sorted([ids["case_a"], ids["case_b"]])
    assert ids["consent_c"] in {consent_id for consent_id, _case in others}
    # The identity version is attributed to the case its author works in.
    assert [_uuid(v["case_id"]) for v in state["versions"]] == [ids["case_a"]]

    # Lossy downgrade: the person gets back the facts of a case.
    _in_thread(lambda: downgrade(scratch_url, "0009", keyring=ring))

    def read_person(conn: sa.Connection) -> Any:
        persons = _with_sealed_types(conn, "persons")
        return conn.execute(sa.select(persons)).one()._mapping

    person = _run(scratch_url, read_person)
    ctx = FieldContext("persons", ids["person"], "address_enc")
    assert ring.open_json(person["address_enc"], ctx) == ADDRESS

"""The case purge plan is derived from the metadata: every table tied to a case is in it,
and a new table that would block or outlive a purge fails here."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Uuid

from app.platform.db import Base
from app.retention.due import person_refs
from app.retention.plan import OWNED_BY_REFERENCE, PlanError, build_plan


def _tied_to_cases(metadata: MetaData) -> set[str]:
    """Independently: tables with a case_id column, and tables pointing at those."""
    tied = {t.name for t in metadata.tables.values() if "case_id" in t.c} | {"cases"}
    grew = True
    while grew:
        grew = False
        for table in metadata.tables.values():
            if table.name in tied:
                continue
            for fk in table.foreign_keys:
                if fk.column.table.name in tied and (fk.ondelete or "").upper() == "CASCADE":
                    tied.add(table.name)
                    grew = True
    return tied


def test_every_table_with_a_case_is_in_the_plan() -> None:
    plan = build_plan(Base.metadata)
    tied = _tied_to_cases(Base.metadata)
    detached = {t.name for t, _c in plan.detach}
    assert tied - detached == set(plan.names())
    assert {"outbox_events", "referral_events", "plan_versions", "concerns"} <= set(plan.names())
    assert detached == {"person_versions"}  # identity history stays with a surviving person
    assert set(OWNED_BY_REFERENCE) == {("concerns", "case_id")}


def test_a_table_referring_to_persons_is_discounted_by_its_case() -> None:
    refs = person_refs(build_plan(Base.metadata))
    # Owned by the person, so they go with it: identity history, and access requests
    # (their decisions stay in the audit log by id).
    assert {t.name for t, _c in refs.own} == {"person_versions", "access_requests"}  # type: ignore[attr-defined]
    assert {t.name for t, _c in refs.refs} >= {"case_participants", "concerns"}  # type: ignore[attr-defined]


def _copy() -> MetaData:
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    return metadata


def test_a_new_case_table_is_covered_without_a_hand_list() -> None:
    metadata = _copy()
    Table(
        "case_widgets",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("case_id", ForeignKey("cases.id", ondelete="CASCADE")),
    )
    Table(
        "widget_parts",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("widget_id", ForeignKey("case_widgets.id", ondelete="CASCADE")),
    )
    Table("case_log", metadata, Column("id", Integer, primary_key=True), Column("case_id", Uuid))
    names = build_plan(metadata).names()
    assert {"case_widgets", "widget_parts", "case_log"} <= set(names)
    assert names.index("case_widgets") < names.index("widget_parts")  # parents first


@pytest.mark.parametrize("ondelete", ["RESTRICT", None])
def test_a_table_that_would_block_a_purge_fails(ondelete: str | None) -> None:
    metadata = _copy()
    Table(
        "case_archive",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("plan_id", ForeignKey("plans.id", ondelete=ondelete)),
        Column("label", String(10)),
    )
    with pytest.raises(PlanError, match=r"case_archive\.plan_id"):
        build_plan(metadata)

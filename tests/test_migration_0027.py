"""Migration 0027 (measures' outcome notes sealed), on the demo data, both databases.

The demo is seeded at head and a measure settled with an outcome note sealed
under its case key. The downgrade writes the note back in plain text (what the
older code reads); after the upgrade it is plain text the application still
reads, ``keys rotate`` seals it again and empties the plaintext, and once the
case is shredded the downgrade refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.casekeys.freetext import open_text, seal_text
from app.casekeys.service import case_cipher
from app.cases.models import Case
from app.ops.keyrotation import PLAINTEXT
from app.ops.migrate import downgrade, upgrade
from app.plans.models import Measure, Plan
from app.platform.crypto import KeyRing
from app.platform.db import Database
from tests.conftest import _in_thread
from tests.test_migration_0019 import scratch_url  # noqa: F401  (the fixture)
from tests.test_migration_0021 import _async, _query, rotate_then_shred, seeded_at_head

NOTE = "Placed in the shelter in Tampere; she moved on after three weeks."
NOTES = "SELECT outcome_note, outcome_note_enc FROM plan_measures"


def _settled(url: str, ring: KeyRing) -> None:
    """A plan in the demo's first case, its measure done with NOTE sealed."""

    async def run() -> None:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker.begin() as session:
                case = await session.scalar(select(Case).order_by(Case.id).limit(1))
                assert case is not None
                plan = Plan(case_id=case.id, kind="safety_plan", created_by=case.created_by)
                session.add(plan)
                await session.flush()
                measure = Measure(
                    plan_id=plan.id,
                    case_id=case.id,
                    category="shelter",
                    responsible_organisation_id=case.owner_organisation_id,
                    status="done",
                    added_in=1,
                    created_by=case.created_by,
                )
                session.add(measure)
                await session.flush()
                cipher = await case_cipher(session, ring, case.id, create=True)
                seal_text(cipher, measure, "description", "Reserve a shelter place.")
                seal_text(cipher, measure, "outcome_note", NOTE)
        finally:
            await db.dispose()

    _async(run)


def _read_note(url: str, ring: KeyRing) -> Any:
    """The note as the application reads it (sealed or still plain)."""

    async def run() -> Any:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                measure = await session.scalar(select(Measure).limit(1))
                assert measure is not None
                cipher = await case_cipher(session, ring, measure.case_id)
                return open_text(cipher, measure, "outcome_note")
        finally:
            await db.dispose()

    return _async(run)


async def _measure_case(db: Database) -> Any:
    async with db.sessionmaker() as session:
        return await session.scalar(select(Measure.case_id).limit(1))


def test_downgrade_writes_the_note_back_and_rotate_seals_it_again(
    scratch_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    ring = seeded_at_head(scratch_url, tmp_path)
    _settled(scratch_url, ring)
    [(plain, sealed)] = _query(scratch_url, NOTES)
    assert plain is None and sealed.startswith("c1.")

    _in_thread(lambda: downgrade(scratch_url, "0026", keyring=ring))
    assert _query(scratch_url, "SELECT outcome_note FROM plan_measures") == [(NOTE,)]

    _in_thread(lambda: upgrade(scratch_url))
    assert _query(scratch_url, NOTES) == [(NOTE, None)]
    assert _read_note(scratch_url, ring) == NOTE  # legacy plain text still reads

    result, before, after = rotate_then_shred(scratch_url, ring, _measure_case)
    assert before[PLAINTEXT] >= 1
    assert PLAINTEXT not in after
    assert result.per_table["plan_measures"] >= 1
    [(plain, sealed)] = _query(scratch_url, NOTES)
    assert plain is None and sealed.startswith("c1.")

    with pytest.raises(RuntimeError, match="shredded") as refused:
        _in_thread(lambda: downgrade(scratch_url, "0026", keyring=ring))
    assert "revision 0027 cannot be downgraded" in str(refused.value)  # not 0024's name
    assert "revision 0024" not in str(refused.value)

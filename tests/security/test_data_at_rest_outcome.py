"""A measure's outcome note at rest when a referral settles it (issue 15, revision 0027).

The provider's transitions and the expiry sweep write the linked measure's note:
it is sealed under the case's data key (the raw row holds no plaintext) and the
API reads it back; a shredded case's measure gets no note from the sweep. Notes
written by hand: test_data_at_rest_cases.py and the canaries.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.service import shred_case_key
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.referrals.transitions import expire_due
from tests.plans.factories import ensure_plan
from tests.referrals.conftest import ReferralWorld, build_referral_world, moved, sent
from tests.referrals.test_measure_and_closure import read_measure
from tests.security.at_rest import raw_rows
from tests.world import TokenFactory


@pytest.fixture
async def rw(db: AsyncSession, tokens: TokenFactory) -> ReferralWorld:
    return await build_referral_world(db, tokens)


async def _linked(db: AsyncSession, rw: ReferralWorld) -> uuid.UUID:
    _plan, measure = await ensure_plan(db, rw.case)
    await db.commit()
    return measure.id


async def _stored(db: AsyncSession, measure_id: uuid.UUID) -> tuple[str, str | None]:
    """The raw note columns: no plaintext, and the sealed note (or None)."""
    [row] = await raw_rows(db, "plan_measures", id=measure_id)
    assert row["outcome_note"] is None, "plaintext outcome note"
    return row["status"], row["outcome_note_enc"]


async def test_the_providers_transitions_seal_the_note_on_the_measure(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    measure_id = await _linked(db, rw)
    ref = await sent(client, rw, measure_id=str(measure_id))
    for to in ("received", "accepted", "in_progress"):
        ref = await moved(client, rw.provider, ref, to)
    await moved(client, rw.provider, ref, "completed", outcome="service_started")
    status, sealed = await _stored(db, measure_id)
    assert status == "done"
    assert sealed is not None and sealed.startswith(f"c1.{rw.case.id.hex}.")
    assert "service_started" not in sealed
    read = await read_measure(client, rw, measure_id)
    assert (read["status"], read["outcome_note"]) == ("done", "Referral completed: service_started")


async def test_the_expiry_sweep_seals_the_note_it_writes(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, settings: Settings
) -> None:
    measure_id = await _linked(db, rw)
    await sent(client, rw, measure_id=str(measure_id))
    later = clock.now() + timedelta(days=365)
    assert await expire_due(db, load_keyring(settings), later) == 1
    await db.commit()
    status, sealed = await _stored(db, measure_id)
    assert status == "not_done"
    assert sealed is not None and sealed.startswith(f"c1.{rw.case.id.hex}.")
    read = await read_measure(client, rw, measure_id)
    assert (read["status"], read["outcome_note"]) == ("not_done", "Referral failed: expired")


async def test_the_expiry_sweep_writes_no_note_in_a_shredded_case(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, settings: Settings
) -> None:
    measure_id = await _linked(db, rw)
    await sent(client, rw, measure_id=str(measure_id))
    await shred_case_key(db, rw.case.id)
    await db.commit()
    later = clock.now() + timedelta(days=365)
    assert await expire_due(db, load_keyring(settings), later) == 1
    await db.commit()
    assert await _stored(db, measure_id) == ("not_done", None)

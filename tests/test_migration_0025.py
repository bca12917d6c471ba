"""Migration 0025 (referrals', consents', concerns' and versions' text sealed), on
the demo data, both databases.

The demo is seeded at head: its referral's reason and note sealed under the
case key, the identity versions' reasons under the field key. The downgrade
writes them back in plain text; after the upgrade they are plain text the
application still reads, ``keys rotate`` seals them again and empties the
plaintext, and once the referral's case is shredded the downgrade refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.ops.keyrotation import PLAINTEXT
from app.ops.migrate import downgrade, upgrade
from app.platform.db import Database
from app.referrals.models import Referral
from tests.conftest import _in_thread
from tests.test_migration_0019 import scratch_url  # noqa: F401  (the fixture)
from tests.test_migration_0021 import _query, rotate_then_shred, seeded_at_head

REFERRALS = "SELECT reason, reason_enc, note_to_provider, note_to_provider_enc FROM referrals"
VERSIONS = "SELECT reason, reason_enc FROM person_versions"


def test_downgrade_writes_plain_text_back_and_rotate_seals_it_again(
    scratch_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    ring = seeded_at_head(scratch_url, tmp_path)
    referrals = _query(scratch_url, REFERRALS)
    assert referrals and all(
        r is None and enc.startswith("c1.") and n is None and n_enc.startswith("c1.")
        for r, enc, n, n_enc in referrals
    )
    versions = _query(scratch_url, VERSIONS)
    assert versions and all(p is None and e.startswith("v1.") for p, e in versions)

    _in_thread(lambda: downgrade(scratch_url, "0024", keyring=ring))
    plain = _query(scratch_url, "SELECT reason, note_to_provider FROM referrals")
    assert len(plain) == len(referrals) and all(r and n for r, n in plain)
    assert all(r for (r,) in _query(scratch_url, "SELECT reason FROM person_versions"))

    _in_thread(lambda: upgrade(scratch_url))

    result, before, after = rotate_then_shred(scratch_url, ring, _referral_case)
    assert before[PLAINTEXT] >= len(referrals) + len(versions)
    assert PLAINTEXT not in after
    assert result.per_table["referrals"] >= len(referrals)
    assert result.per_table["person_versions"] >= len(versions)
    sealed = _query(scratch_url, REFERRALS)
    assert all(r is None and enc.startswith("c1.") for r, enc, _, _ in sealed)
    assert all(p is None and e.startswith("v1.") for p, e in _query(scratch_url, VERSIONS))

    with pytest.raises(RuntimeError, match="shredded"):
        _in_thread(lambda: downgrade(scratch_url, "0024", keyring=ring))


async def _referral_case(db: Database) -> Any:
    async with db.sessionmaker() as session:
        return await session.scalar(select(Referral.case_id).limit(1))

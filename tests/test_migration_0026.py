"""Migration 0026 (the judgement's free text sealed), on the demo data, both databases.

The demo is seeded at head: the HAH formulation and Ankkuri's summary of needs
sealed in ``assessments.judgement_text_enc``, ``null`` in their place in the
plain ``judgement``. The downgrade writes them back inline (what the older code
reads); after the upgrade they are inline text the application still reads,
``keys rotate`` splits and seals them again, and once a case is shredded the
downgrade refuses.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from app.demo.seed import seed_demo
from app.ops.keyrotation import PLAINTEXT
from app.ops.migrate import downgrade, upgrade
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.risk.models import Assessment
from tests.conftest import _in_thread
from tests.test_migration_0019 import scratch_url  # noqa: F401  (the fixture)
from tests.test_migration_0021 import _query
from tests.test_migration_0024 import rotate_then_shred

#: The revision before 0026 (its down_revision).
BEFORE = "0025"
#: The demo's judgement text fields.
TEXT_FIELDS = {"formulation", "summary_need"}


def _judgements(url: str) -> list[tuple[dict[str, Any], Any]]:
    rows = _query(url, "SELECT judgement, judgement_text_enc FROM assessments")
    return [(json.loads(j) if isinstance(j, str) else j, enc) for j, enc in rows]


def _sealed(url: str) -> None:
    """Every demo judgement text sealed: ``null`` in the plain JSON, a case-key token."""
    found = 0
    for judgement, enc in _judgements(url):
        assert enc is not None and enc.startswith("c1.")
        for field in TEXT_FIELDS & set(judgement):
            assert judgement[field] is None, field
            found += 1
    assert found == len(TEXT_FIELDS)


def test_downgrade_writes_judgement_text_back_and_rotate_seals_it_again(
    scratch_url: str,  # noqa: F811
    tmp_path: Any,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=scratch_url)
    _in_thread(lambda: upgrade(scratch_url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    ring = load_keyring(settings)
    _sealed(scratch_url)

    _in_thread(lambda: downgrade(scratch_url, BEFORE, keyring=ring))
    judgements = [j for (j,) in _query(scratch_url, "SELECT judgement FROM assessments")]
    inline = [json.loads(j) if isinstance(j, str) else j for j in judgements]
    texts = [j[f] for j in inline for f in TEXT_FIELDS & set(j)]
    assert len(texts) == len(TEXT_FIELDS) and all(len(t) > 20 for t in texts)  # prose again

    _in_thread(lambda: upgrade(scratch_url))
    assert all(enc is None for _, enc in _judgements(scratch_url))

    result, counted, after = rotate_then_shred(scratch_url, ring, select(Assessment.case_id))
    # One value per judgement holding a text: the demo's judgement without one is no
    # plain text (app/casekeys/plaintext.py), though rotate still splits it.
    assert counted[PLAINTEXT] == len([j for j in inline if TEXT_FIELDS & set(j)])
    assert PLAINTEXT not in after
    assert result.per_table.get("assessments", 0) >= len(inline)
    _sealed(scratch_url)

    with pytest.raises(RuntimeError, match="shredded"):
        _in_thread(lambda: downgrade(scratch_url, BEFORE, keyring=ring))

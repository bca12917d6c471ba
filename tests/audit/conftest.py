"""The audit tests read the whole log (the chain, its periods, verification), so
each module runs on a log of its own: rows that other tests commit for real into
the worker's database (tests/security/test_case_concurrency.py, for one) must not
join the chain these tests build. ``connection``, ``db`` and ``client`` follow
this ``engine``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.platform.db import make_engine
from tests.conftest import scratch_database


@pytest.fixture(scope="module")
def audit_log_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "audit") as url:
        yield url


@pytest.fixture(scope="module")
async def engine(audit_log_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(audit_log_url)
    yield engine
    await engine.dispose()

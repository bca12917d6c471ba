"""``casecoord referrals expire``: the cron-side expiry, with progress output."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from app.cli import cli
from app.demo.seed import seed_demo
from app.ops.migrate import upgrade
from app.platform.config import Settings, get_settings
from app.platform.db import Database, utcnow
from app.referrals.models import Referral, ReferralEvent
from tests.conftest import _in_thread


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_expires_due_referrals_once(fresh_settings: None, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    env = {"CASECOORD_DATA_DIR": str(tmp_path / "data"), "CASECOORD_DATABASE_URL": url}

    async def run(fn: Any) -> Any:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker.begin() as session:
                return await fn(session)
        finally:
            await db.dispose()

    # Nothing is due yet: the demo referral was sent just now.
    first = CliRunner().invoke(cli, ["referrals", "expire"], env=env)
    assert first.exit_code == 0, first.output
    assert "Expired 0 unanswered referral(s)." in first.output

    async def backdate(session: Any) -> None:
        await session.execute(update(Referral).values(expires_at=utcnow() - timedelta(minutes=1)))

    _in_thread(lambda: asyncio.run(run(backdate)))
    result = CliRunner().invoke(cli, ["referrals", "expire"], env=env)
    assert result.exit_code == 0, result.output
    assert "Expiring referrals" in result.output
    assert "Expired 1 unanswered referral(s)." in result.output

    async def read(session: Any) -> dict[str, Any]:
        referral = (await session.scalars(select(Referral))).one()
        sides = (
            await session.scalars(
                select(ReferralEvent.side).where(ReferralEvent.to_status == "failed")
            )
        ).all()
        return {"status": referral.status, "code": referral.reason_code, "sides": sides}

    found: dict[str, Any] = {}
    _in_thread(lambda: found.update(asyncio.run(run(read))))
    assert found == {"status": "failed", "code": "expired", "sides": ["system"]}
    again = CliRunner().invoke(cli, ["referrals", "expire"], env=env)
    assert "Expired 0 unanswered referral(s)." in again.output

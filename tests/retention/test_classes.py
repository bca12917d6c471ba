"""Retention classes: documented defaults, deployment overrides, and the registered job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.directory.schemas import OrganisationKind
from app.jobs.registry import JobContext, Jobs
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.extensions import registries_of
from app.retention.classes import (
    ANY,
    DEFAULTS,
    KINDS,
    Record,
    RetentionConfigError,
    Schedule,
    load_schedule,
)
from app.retention.hooks import PurgeHooks
from app.retention.install import shred_before_purge
from tests.retention.helpers import closed_case
from tests.world import World


def test_kinds_are_the_directorys() -> None:
    assert set(KINDS) == {k.value for k in OrganisationKind}


def test_every_record_type_has_a_default_with_its_source() -> None:
    for record in Record:
        assert Schedule().find(record, "no-such-kind").kind == ANY
    for cls in DEFAULTS:
        assert cls.source
        # Only the operational 24 h Idempotency-Key expiry is this service's own figure.
        assert cls.confirmed == (cls.record == Record.IDEMPOTENCY), cls
    police = Schedule().find(Record.CASE, "police")
    social = Schedule().find(Record.CASE, "social_services")
    assert police.days != social.days and "616/2019" in police.source
    assert "703/2023" in social.source


def test_a_deployment_overrides_by_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"case": {"police": 100, "*": 200}, "event": {"*": 7}}))
    schedule = load_schedule(path)
    assert schedule.find(Record.CASE, "police").days == 100
    assert schedule.find(Record.CASE, "ngo").days == 5 * 365  # its own default stays
    assert schedule.find(Record.CASE, "other").days == 200
    assert schedule.find(Record.EVENT).days == 7 and schedule.find(Record.EVENT).confirmed


@pytest.mark.parametrize(
    "content",
    [
        {"cases": {"*": 1}},
        {"case": {"martians": 1}},
        {"case": {"*": -1}},
        {"case": {"*": "ten"}},
        {"case": {"*": True}},
        {"case": 5},
        [1],
    ],
)
def test_a_bad_file_is_refused(tmp_path: Path, content: Any) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(content))
    with pytest.raises(RetentionConfigError):
        load_schedule(path)


def test_a_bad_file_stops_the_start(tmp_path: Path, settings: Settings) -> None:
    from app.main import create_app

    path = tmp_path / "r.json"
    path.write_text("{not json")
    with pytest.raises(RetentionConfigError):
        create_app(settings.model_copy(update={"retention_classes": path}))


async def test_the_job_is_registered_off_by_default_and_runs(
    app: Any, settings: Settings, db: AsyncSession, connection: AsyncConnection, world: World
) -> None:
    job = registries_of(app).of(Jobs).get("retention.run")
    assert job.singleton
    assert job.every(settings) == 0  # off until the deployment confirms its periods
    assert job.every(settings.model_copy(update={"retention_seconds": 86_400})) == 86_400
    assert registries_of(app).of(PurgeHooks).hooks == [shred_before_purge]  # crypto-shredding
    await closed_case(db, world.ankkuri, world.police)
    await db.commit()
    ctx = JobContext(Database.bound_to(connection), settings, registries_of(app))
    assert await job.run(ctx) == 0  # closed today: not yet due under the defaults

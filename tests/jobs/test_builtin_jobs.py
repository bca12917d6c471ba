"""The app registers its periodic work as singleton jobs (no loops of their own)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.audit import checkpoints
from app.audit.service import record
from app.jobs.engine import Engine
from app.jobs.registry import Jobs
from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.extensions import registries_of


def test_the_periodic_work_is_registered_as_singleton_jobs(settings: Settings) -> None:
    jobs = registries_of(create_app(settings)).of(Jobs)
    for name, setting in [
        ("referrals.expiry", "referral_sweep_seconds"),
        ("audit.seal", "audit_seal_seconds"),
    ]:
        job = jobs.get(name)
        assert job.singleton and job.every(settings) == getattr(settings, setting)
    assert jobs.get("audit.checkpoint").singleton


def test_the_checkpoint_job_is_off_unless_configured(settings: Settings, tmp_path: Path) -> None:
    assert settings.audit_checkpoint_every == 0
    with_dir = settings.model_copy(update={"audit_checkpoint_dir": tmp_path})
    assert with_dir.audit_checkpoint_every == 3600
    assert with_dir.model_copy(update={"audit_checkpoint_seconds": 0}).audit_checkpoint_every == 0


async def test_the_checkpoint_job_signs_the_sealed_log(
    jobs_db: Database, jobs_settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "checkpoints"
    settings = jobs_settings.model_copy(
        update={"audit_checkpoint_dir": out, "audit_checkpoint_seconds": 0.05}
    )
    async with jobs_db.sessionmaker.begin() as session:
        record(session, None, "jobs.test", "audit_log", None)
    engine = Engine(
        jobs_db, settings, registries_of(create_app(settings)), only={"audit.checkpoint"}
    )
    assert [job.name for job in engine.jobs] == ["audit.checkpoint"]
    # No signing key yet: the job fails (by class, logged) and never makes one itself.
    [report] = await engine.tick()
    assert (report.status, report.error_class) == ("failed", "CheckpointError")
    assert not settings.audit_checkpoint_key_path.exists()
    vkey = checkpoints.generate_key(
        settings.audit_checkpoint_key_path, settings.audit_checkpoint_origin
    )
    await asyncio.sleep(0.1)
    [report] = await engine.tick()
    assert report.status == "ran" and report.handled >= 1
    pins = checkpoints.read_all(out, vkey)
    assert pins and all(rows for rows in pins.values())

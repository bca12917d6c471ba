"""The retention domain's part of the extension point (app/platform/extensions.py).

Routes for legal holds; the ``retention.run`` job (a singleton: once per period
across all processes, every ``CASECOORD_RETENTION_SECONDS``, off by default
because the default periods are not confirmed, see app/platform/config.py); and
the ``PurgeHooks`` registry, into which crypto-shredding (app/casekeys)
registers the destruction of the case's data key.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.service import shred_case_key
from app.jobs.registry import Job, JobContext, Jobs
from app.platform.config import Settings
from app.platform.extensions import registries_of
from app.retention.classes import load_schedule
from app.retention.hooks import PurgeHooks
from app.retention.router import router
from app.retention.service import run


async def retention_job(ctx: JobContext) -> int:
    """Purge what is past its period; the number of cases, concerns and persons purged."""
    schedule = load_schedule(ctx.settings.retention_classes)
    report = await run(ctx.db, schedule, ctx.registries.of(PurgeHooks))
    return report.total


async def shred_before_purge(session: AsyncSession, case_id: uuid.UUID) -> None:
    """Crypto-shredding: the case's data key is destroyed (and audited) before its
    rows go, so no copy of its sealed values (a backup, a replica) opens again."""
    await shred_case_key(session, case_id, purpose="retention")


def _every(settings: Settings) -> float:
    return float(settings.retention_seconds)


JOB = Job(name="retention.run", run=retention_job, every=_every, singleton=True)


def install(app: FastAPI) -> None:
    # A malformed CASECOORD_RETENTION_CLASSES file stops the start, not a later run.
    load_schedule(app.state.settings.retention_classes)
    registries = registries_of(app)
    registries.of(PurgeHooks).register(shred_before_purge)
    registries.of(Jobs).register(JOB)
    app.include_router(router)

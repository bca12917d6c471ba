"""The audit domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.audit.chain import seal_all
from app.audit.checkpoints import checkpoint_job
from app.audit.router import router
from app.audit.service import record_denial, record_replay
from app.jobs.registry import Job, JobContext, Jobs
from app.platform.extensions import registries_of
from app.platform.idempotency import ReplayHooks
from app.platform.problems import DenialHooks


async def seal_job(ctx: JobContext) -> int:
    """Chain committed audit rows (singleton, every ``audit_seal_seconds``)."""
    return await seal_all(ctx.db, wait=False)


def install(app: FastAPI) -> None:
    """The audit trail's routes, and the record of every refused request and of
    every replayed create; the sealer and the checkpoint writer as jobs."""
    registries = registries_of(app)
    registries.of(DenialHooks).register(record_denial)
    registries.of(ReplayHooks).register(record_replay)
    app.include_router(router)
    jobs = registries.of(Jobs)
    jobs.register(Job("audit.seal", seal_job, lambda s: s.audit_seal_seconds))
    jobs.register(Job("audit.checkpoint", checkpoint_job, lambda s: s.audit_checkpoint_every))

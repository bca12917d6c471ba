"""The webhooks domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.jobs.registry import Job, Jobs
from app.platform.extensions import registries_of
from app.webhooks import delivery, fanout
from app.webhooks.router import router


def install(app: FastAPI) -> None:
    """Subscriptions and the delivery log; the fan-out (once per period across all
    processes) and the sender (every worker, claiming with a lease) as jobs."""
    app.include_router(router)
    jobs = registries_of(app).of(Jobs)
    jobs.register(
        Job(
            name="webhooks.fan_out",
            run=fanout.fan_out,
            every=lambda s: s.webhook_fanout_seconds,
            singleton=True,
        )
    )
    jobs.register(
        Job(
            name="webhooks.deliver",
            run=delivery.deliver_due,
            every=lambda s: s.webhook_delivery_seconds,
            singleton=False,
        )
    )

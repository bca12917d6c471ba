"""The referrals domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app.cases.lifecycle import CaseStatus, Gates
from app.platform.extensions import registries_of
from app.referrals import followup
from app.referrals.router import fhir_router, router
from app.referrals.router_services import router as services_router
from app.worklist.registry import TaskProviders


@asynccontextmanager
async def expiry_sweep(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs: expire unanswered referrals every ``referral_sweep_seconds``."""
    seconds = app.state.settings.referral_sweep_seconds
    sweeper = (
        asyncio.create_task(followup.sweep_forever(app.state.db, seconds)) if seconds else None
    )
    yield
    if sweeper is not None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper


def install(app: FastAPI) -> None:
    """The service catalogue, referrals and their FHIR face; no closing with open
    referrals; overdue, expired and unanswered referrals in /me/tasks; the sweep."""
    registries = registries_of(app)
    registries.of(Gates).register(None, CaseStatus.CLOSED, followup.referrals_settled)
    providers = registries.of(TaskProviders)
    providers.register(
        "referrals.mine",
        followup.my_referrals,
        [followup.REFERRAL_OVERDUE, followup.REFERRAL_EXPIRED],
    )
    providers.register(
        "referrals.to_answer", followup.referrals_to_answer, [followup.REFERRAL_TO_ANSWER]
    )
    for each in (services_router, router, fhir_router):
        app.include_router(each)
    app.include_router(APIRouter(lifespan=expiry_sweep))

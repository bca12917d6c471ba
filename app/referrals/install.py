"""The referrals domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.cases.lifecycle import CaseStatus, Gates
from app.jobs.registry import Job, JobContext, Jobs
from app.platform.crypto import load_keyring
from app.platform.extensions import registries_of
from app.referrals import followup
from app.referrals.router import fhir_router, router
from app.referrals.router_services import router as services_router
from app.worklist.registry import TaskProviders


async def expire_referrals(ctx: JobContext) -> int:
    """Expire unanswered referrals past their expiry (singleton, ``referral_sweep_seconds``)."""
    return await followup.sweep_once(ctx.db, load_keyring(ctx.settings))


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
    registries.of(Jobs).register(
        Job("referrals.expiry", expire_referrals, lambda s: s.referral_sweep_seconds)
    )

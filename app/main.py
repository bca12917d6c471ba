"""The application factory: middleware -> exception handlers -> routers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from app.audit.chain import seal_forever
from app.audit.router import router as audit_router
from app.audit.service import record_denial
from app.auth.ratelimit import AuthGuard
from app.auth.tokens import KeySet
from app.cases.router import routers as cases_routers
from app.concerns.router import router as concerns_router
from app.directory.registration import resolve_principal
from app.directory.router import router as directory_router
from app.ops import health as ops
from app.persons.router import router as persons_router
from app.persons.router_consents import router as consents_router
from app.persons.router_facts import router as facts_router
from app.plans.router import router as plans_router
from app.plans.router_meetings import router as meetings_router
from app.platform import contract
from app.platform.config import Settings, get_settings
from app.platform.crypto import KeyRingProvider
from app.platform.db import Database
from app.platform.inputs import InputPolicyMiddleware
from app.platform.middleware import EdgeMiddleware, Metrics
from app.platform.problems import install_handlers
from app.referrals.followup import sweep_forever
from app.referrals.router import fhir_router
from app.referrals.router import router as referrals_router
from app.referrals.router_services import router as services_router
from app.risk.gates import install as install_risk_rules
from app.risk.router import routers as risk_routers
from app.worklist.router import router as tasks_router

DESCRIPTION = """
Case coordination for Finland's multiprofessional preventive work: **Ankkuri**
(youth early intervention), **Marak** (MARAC for intimate partner violence) and
**HAH** (threat assessment of persons of specific concern).

Every call needs a bearer JWT from the configured identity provider. Records
are shared strictly on a need-to-know basis: a case you are not a member of
does not exist for you (404). Every read and write of personal data is audited.
Errors are RFC 9457 `application/problem+json`.
"""


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    owns_db = database is None
    db = database or Database.from_url(settings.effective_database_url, echo=settings.db_echo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if settings.referral_sweep_seconds > 0:
            sweeper = asyncio.create_task(
                sweep_forever(app.state.db, settings.referral_sweep_seconds)
            )
        tally = asyncio.create_task(app.state.auth_guard.flush_forever(app.state.db))
        sealer = None
        if settings.audit_seal_seconds > 0:  # chains committed audit rows (app/audit/chain.py)
            sealer = asyncio.create_task(seal_forever(app.state.db, settings.audit_seal_seconds))
        yield
        if sealer is not None:
            sealer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sealer
        tally.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tally
        await app.state.auth_guard.flush(app.state.db)
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if owns_db:
            await app.state.db.dispose()

    app = FastAPI(
        title="casecoord",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.keyset = KeySet(settings, settings.oidc_jwks)
    app.state.keyring = KeyRingProvider(settings)
    app.state.principal_resolver = resolve_principal
    app.state.metrics = Metrics()
    app.state.auth_guard = AuthGuard(settings, app.state.metrics.registry)

    install_handlers(app, on_denied=record_denial)
    install_risk_rules(settings)
    for router in (
        ops.router,
        directory_router,
        audit_router,
        *cases_routers,
        persons_router,
        consents_router,
        facts_router,
        concerns_router,
        *risk_routers,
        plans_router,
        meetings_router,
        tasks_router,
        services_router,
        referrals_router,
        fhir_router,
    ):
        app.include_router(router)
    contract.install(app)
    app.mount(ops.DOCS_STATIC, StaticFiles(directory=ops.STATIC_DIR), name="static-docs")
    # Inside the edge (request id, body limit, content type): the input policy.
    app.add_middleware(InputPolicyMiddleware)
    app.add_middleware(
        EdgeMiddleware, max_body_bytes=settings.max_body_bytes, metrics=app.state.metrics
    )
    return app


def app_from_environment() -> FastAPI:
    """The app for each worker of ``casecoord serve --workers N`` (settings from env)."""
    return create_app(get_settings())

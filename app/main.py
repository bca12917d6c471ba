"""The application factory: middleware -> exception handlers -> routers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.access_requests import install as access_requests
from app.audit import install as audit
from app.auth.ratelimit import AuthGuard
from app.auth.tokens import KeySet
from app.cases import install as cases
from app.concerns import install as concerns
from app.directory import install as directory
from app.events import install as events
from app.jobs import install as jobs
from app.ops import install as ops
from app.persons import install as persons
from app.plans import install as plans
from app.platform import contract
from app.platform.config import Settings, get_settings
from app.platform.crypto import KeyRingProvider
from app.platform.db import Database
from app.platform.extensions import Registries
from app.platform.inputs import InputPolicyMiddleware
from app.platform.middleware import EdgeMiddleware, Metrics
from app.platform.problems import install_handlers
from app.platform.routing import SessionRoute, flatten, operation_id, refuse_sessionless
from app.referrals import install as referrals
from app.retention import install as retention
from app.risk import install as risk
from app.webhooks import install as webhooks
from app.worklist import install as worklist

#: Every domain's ``install(app)``, in dependency order: a domain extends only
#: those installed before it, and the worklist builds /me/tasks from every
#: provider registered before it (app/platform/extensions.py).
DOMAINS = (
    ops,
    audit,
    directory,
    cases,
    persons,
    concerns,
    risk,
    plans,
    referrals,
    events,
    webhooks,
    retention,
    access_requests,
    worklist,
    jobs,
)

DESCRIPTION = """
Case coordination for Finland's multiprofessional preventive work: **Ankkuri**
(youth early intervention), **Marak** (MARAC for intimate partner violence) and
**HAH** (threat assessment of persons of specific concern).

Every call needs a bearer JWT from the configured identity provider. Records
are shared strictly on a need-to-know basis: a case you are not a member of
does not exist for you (404). Every read and write of personal data is audited.
Errors are RFC 9457 `application/problem+json`.
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    owns_db = database is None
    db = database or Database.from_url(settings.effective_database_url, echo=settings.db_echo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tally = asyncio.create_task(app.state.auth_guard.flush_forever(app.state.db))
        yield
        tally.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tally
        await app.state.auth_guard.flush(app.state.db)
        if owns_db:
            await app.state.db.dispose()

    app = FastAPI(
        title="casecoord",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.router.route_class = SessionRoute  # routes added on the app itself too
    app.state.settings = settings
    app.state.db = db
    app.state.keyset = KeySet(settings, settings.oidc_jwks)
    app.state.keyring = KeyRingProvider(settings)
    app.state.metrics = Metrics()
    app.state.auth_guard = AuthGuard(settings, app.state.metrics.registry)

    app.state.registries = Registries()
    install_handlers(app)
    for domain in DOMAINS:
        domain.install(app)
    contract.install(app)
    flatten(app)  # one flat route table to match (app/platform/routing.py)
    refuse_sessionless(app)
    # Inside the edge (request id, body limit, content type): the input policy.
    app.add_middleware(InputPolicyMiddleware)
    app.add_middleware(
        EdgeMiddleware, max_body_bytes=settings.max_body_bytes, metrics=app.state.metrics
    )
    return app


def served_app(settings: Settings) -> FastAPI:
    """The app as ``casecoord serve`` runs it: built, then its start-up heap frozen.

    Everything built at start-up (modules, routes, schemas, the app) is moved out
    of the cyclic garbage collector's reach (``gc.freeze``). Otherwise each full
    collection walks those hundreds of thousands of objects while every request
    waits: on PostgreSQL that pause was the p99 of an authorised read, about
    200 ms against 60 ms frozen (bench/README.md, issue 13). Tests build apps with
    :func:`create_app` and leave the test process's heap alone.
    """
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app


def app_from_environment() -> FastAPI:
    """The app for each worker of ``casecoord serve --workers N`` (settings from env)."""
    return served_app(get_settings())

"""Service directory routes: read by professionals and providers, managed by admin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response

from app.platform.db import SessionDep
from app.platform.etag import IfMatch, tagged
from app.platform.idempotency import Idempotency, create_versioned
from app.platform.language import SpokenLanguage
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, rendered
from app.platform.routing import api_router
from app.referrals import catalogue
from app.referrals.dependencies import ServiceManager, ServiceReader
from app.referrals.schemas import ServiceCreate, ServiceRead, ServiceType, ServiceUpdate

router = api_router(prefix="/api/v1", tags=["services"])


@router.get("/services", response_model=Page[ServiceRead])
async def list_services(
    session: SessionDep,
    principal: ServiceReader,
    type: Annotated[ServiceType | None, Query(description="Service type.")] = None,
    area: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="An area served, as written (e.g. Espoo); nationwide services match too.",
        ),
    ] = None,
    language: SpokenLanguage | None = None,
    include_inactive: bool = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ServiceRead]:
    """The directory of services cases can be referred to, by name."""
    found = await catalogue.list_services(
        session, type, area, language, include_inactive, cursor, limit
    )
    return rendered(found, ServiceRead.model_validate)


@router.post("/services", response_model=ServiceRead, status_code=201)
async def create_service(
    body: ServiceCreate,
    session: SessionDep,
    principal: ServiceManager,
    idempotency: Idempotency,
    response: Response,
) -> ServiceRead:
    """Add a service that cases can be referred to. Admins only."""
    return await create_versioned(
        idempotency, session, principal, body, response,
        target_type="service",
        location="/api/v1/services/{id}",
        make=lambda: catalogue.create_service(session, principal, body),
        load=lambda service_id: catalogue.get_service(session, service_id),
        render=ServiceRead.model_validate,
    )  # fmt: skip


@router.get("/services/{service_id}", response_model=ServiceRead)
async def get_service(
    service_id: uuid.UUID,
    session: SessionDep,
    principal: ServiceReader,
    response: Response,
) -> ServiceRead:
    """One service of the directory, with its public contacts."""
    entry = await catalogue.get_service(session, service_id)
    return tagged(response, entry.version, ServiceRead.model_validate(entry))


@router.patch("/services/{service_id}", response_model=ServiceRead)
async def update_service(
    service_id: uuid.UUID,
    body: ServiceUpdate,
    session: SessionDep,
    principal: ServiceManager,
    expected: IfMatch,
    response: Response,
) -> ServiceRead:
    """Edit a service of the directory. Needs If-Match."""
    entry = await catalogue.get_service(session, service_id)
    entry = await catalogue.update_service(session, principal, entry, body, expected)
    return tagged(response, entry.version, ServiceRead.model_validate(entry))

"""The service directory: listing, reading and (admin) managing service entries."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.directory.models import Organisation
from app.platform.etag import check_version
from app.platform.language import SpokenLanguage
from app.platform.lookup import get_or_404
from app.platform.pagination import fetch_page
from app.platform.problems import Conflict, field_error
from app.referrals.models import ServiceEntry
from app.referrals.schemas import NATIONAL, ServiceCreate, ServiceType, ServiceUpdate


def _json_list_has(column: Any, value: str) -> Any:
    """Portable "JSON list contains this string" (SQLite and PostgreSQL).

    The list is serialised with ``json.dumps``, so the element appears in the
    stored text exactly as ``json.dumps(value)``, quotes included; the quotes
    keep "Espoo" from matching "Espoonlahti".
    """
    return cast(column, String).contains(json.dumps(value), autoescape=True)


async def get_service(session: AsyncSession, service_id: uuid.UUID) -> ServiceEntry:
    return await get_or_404(session, ServiceEntry, service_id, "No such service.")


async def list_services(
    session: AsyncSession,
    service_type: ServiceType | None,
    area: str | None,
    language: SpokenLanguage | None,
    include_inactive: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[ServiceEntry], str | None]:
    stmt: Select[Any] = select(ServiceEntry)
    if service_type is not None:
        stmt = stmt.where(ServiceEntry.service_type == service_type.value)
    if area:
        # A nationwide service serves every area.
        stmt = stmt.where(
            or_(
                _json_list_has(ServiceEntry.areas, area.strip()),
                _json_list_has(ServiceEntry.areas, NATIONAL),
            )
        )
    if language is not None:
        stmt = stmt.where(_json_list_has(ServiceEntry.languages, language.value))
    if not include_inactive:
        stmt = stmt.where(ServiceEntry.active.is_(True))
    return await fetch_page(
        session, stmt, ServiceEntry.name, ServiceEntry.id, cursor, limit, descending=False
    )


async def _ensure_unique(
    session: AsyncSession, provider: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> None:
    stmt = select(ServiceEntry.id).where(
        ServiceEntry.provider_organisation_id == provider, ServiceEntry.name == name
    )
    if exclude is not None:
        stmt = stmt.where(ServiceEntry.id != exclude)
    if await session.scalar(stmt):
        raise Conflict("This organisation already lists a service with this name.")


async def create_service(
    session: AsyncSession, actor: Principal, data: ServiceCreate
) -> ServiceEntry:
    if await session.get(Organisation, data.provider_organisation_id) is None:
        raise field_error(
            "provider_organisation_id",
            "The provider organisation does not exist.",
            "unknown",
        )
    await _ensure_unique(session, data.provider_organisation_id, data.name)
    entry = ServiceEntry(
        provider_organisation_id=data.provider_organisation_id,
        service_type=data.service_type.value,
        name=data.name,
        areas=list(data.areas),
        languages=[lang.value for lang in data.languages],
        contact_phone=data.contact_phone,
        contact_web=str(data.contact_web) if data.contact_web else None,
        accepts_electronic_referrals=data.accepts_electronic_referrals,
        response_time_target_days=data.response_time_target_days,
        active=data.active,
    )
    session.add(entry)
    await session.flush()
    audit.record(session, actor, "referrals.service.created", "service", entry.id)
    return entry


#: Fields that may be cleared with an explicit null; the rest ignore null.
_NULLABLE = {"contact_phone", "contact_web", "response_time_target_days"}


async def update_service(
    session: AsyncSession,
    actor: Principal,
    entry: ServiceEntry,
    data: ServiceUpdate,
    expected_version: int,
) -> ServiceEntry:
    check_version(expected_version, entry.version)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in _NULLABLE:
            continue
        if field == "name":
            await _ensure_unique(session, entry.provider_organisation_id, value, exclude=entry.id)
        if field == "service_type":
            value = ServiceType(value).value
        elif field == "languages":
            value = [SpokenLanguage(v).value for v in value]
        elif field == "contact_web" and value is not None:
            value = str(value)
        setattr(entry, field, value)
    await session.flush()
    audit.record(session, actor, "referrals.service.updated", "service", entry.id)
    return entry

"""Instrument routes. Definitions are not personal data, so reads are not audited;
publishing a version (an admin's change of configuration) is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Path, Response

from app.platform.db import SessionDep
from app.platform.idempotency import Idempotency, create_once
from app.platform.routing import api_router
from app.risk import catalogue
from app.risk.dependencies import (
    InstrumentPublisher,
    InstrumentReader,
    PreferredLanguage,
    Registry,
)
from app.risk.instruments import default_registry
from app.risk.router_assessments import router as assessments_router
from app.risk.router_records import router as records_router
from app.risk.schemas import (
    InstrumentDefinition,
    InstrumentList,
    InstrumentRead,
    InstrumentSummary,
)


@asynccontextmanager
async def load_instruments(app: Any) -> AsyncIterator[None]:
    """Validate every definition when the server starts: a broken one stops it here."""
    default_registry()
    yield


router = api_router(prefix="/api/v1", tags=["risk"], lifespan=load_instruments)


@router.get("/instruments", response_model=InstrumentList)
async def list_instruments(
    principal: InstrumentReader,
    registry: Registry,
    language: PreferredLanguage,
    response: Response,
) -> InstrumentList:
    """Every instrument version, titled in the caller's language (``lang`` or Accept-Language)."""
    response.headers["Content-Language"] = language.value
    return InstrumentList(
        language=language,
        items=[
            InstrumentSummary(
                code=entry.definition.code,
                version=entry.definition.version,
                scheme=entry.definition.scheme,
                title=entry.definition.title.in_language(language),
                scoring_rule=entry.definition.scoring.rule,
                content_hash=entry.content_hash,
            )
            for entry in registry
        ],
    )


@router.get("/instruments/{code}/{version}", response_model=InstrumentRead)
async def get_instrument(
    code: Annotated[str, Path(max_length=63)],
    version: Annotated[int, Path(ge=1, le=10_000)],
    principal: InstrumentReader,
    session: SessionDep,
) -> InstrumentRead:
    """One version in full, in all three languages, with its immutable content hash."""
    entry = await catalogue.get(session, code, version)
    return InstrumentRead.of(entry.definition, entry.content_hash)


@router.post("/instruments", response_model=InstrumentRead, status_code=201)
async def publish_instrument(
    body: InstrumentDefinition,
    session: SessionDep,
    principal: InstrumentPublisher,
    idempotency: Idempotency,
    response: Response,
) -> InstrumentRead:
    """Publish a new instrument version, e.g. a licensed wording (admin).

    Validated like a shipped file (all three languages, the scheme's contract).
    A published ``code@version`` never changes: a different content needs a new
    version number (409). Assessments made under earlier versions keep them.
    """

    async def create() -> tuple[InstrumentRead, str]:
        entry = await catalogue.publish(session, principal, body)
        out = InstrumentRead.of(entry.definition, entry.content_hash)
        response.headers["Location"] = f"/api/v1/instruments/{out.code}/{out.version}"
        return out, f"{out.code}@{out.version}"

    async def reread(target_id: str) -> InstrumentRead:
        code, _, version = target_id.rpartition("@")
        entry = await catalogue.get(session, code, int(version))
        return InstrumentRead.of(entry.definition, entry.content_hash)

    return await create_once(
        idempotency, session, principal, body, response, "instrument", create, reread
    )


#: Everything the risk domain serves, in the order app/main.py includes it.
routers = (router, assessments_router, records_router)

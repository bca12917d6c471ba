"""Read-only instrument routes. Definitions are not personal data, so reads are not audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from app.risk.dependencies import InstrumentReader, PreferredLanguage, Registry
from app.risk.instruments import default_registry
from app.risk.schemas import InstrumentList, InstrumentRead, InstrumentSummary


@asynccontextmanager
async def load_instruments(app: Any) -> AsyncIterator[None]:
    """Validate every definition when the server starts: a broken one stops it here."""
    default_registry()
    yield


router = APIRouter(prefix="/api/v1", tags=["risk"], lifespan=load_instruments)


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
    registry: Registry,
) -> InstrumentRead:
    """One version in full, in all three languages, with its immutable content hash."""
    entry = registry.get(code, version)
    return InstrumentRead.of(entry.definition, entry.content_hash)

"""Permission-carrying principals, the registry and the caller's language for risk routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query

from app.auth.policy import Action, require
from app.auth.principal import Principal
from app.risk.instruments import InstrumentRegistry, default_registry
from app.risk.schemas import Language

InstrumentReader = Annotated[Principal, Depends(require(Action.INSTRUMENT_READ))]

DEFAULT_LANGUAGE = Language.FI


def get_registry() -> InstrumentRegistry:
    return default_registry()


Registry = Annotated[InstrumentRegistry, Depends(get_registry)]


def negotiate_language(accept_language: str | None) -> Language:
    """The supported language the caller ranks highest in ``Accept-Language``; else Finnish.

    Only the primary subtag matters (``sv-FI`` is Swedish). Malformed entries and
    ``q=0`` are ignored; equal weights keep the caller's order.
    """
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        if primary not in Language.__members__.values():
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if weight <= 0 or weight > 1:
            continue
        candidate = (-weight, position, Language(primary))
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else DEFAULT_LANGUAGE


def preferred_language(
    lang: Annotated[
        Language | None, Query(description="fi, sv or en; overrides Accept-Language.")
    ] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> Language:
    return lang or negotiate_language(accept_language)


PreferredLanguage = Annotated[Language, Depends(preferred_language)]

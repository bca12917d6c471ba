"""Risk route dependencies: permissions, the instrument registry, the caller's language,
the clock and area configuration, and assessments loaded through the readable-cases query."""

# No "from __future__ import annotations": the dependency factory below closes over
# `guard`, and FastAPI must see the real Annotated object, not a string.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import path_loader
from app.auth.markers import mark_loader
from app.auth.policy import POLICY, Action, require
from app.auth.principal import Principal
from app.cases.access import (
    CaseAccess,
    enforce_relation,
    load_case_access,
    not_found,
    readable_cases,
)
from app.cases.dependencies import case_access
from app.cases.models import Case
from app.platform.clock import Clock, get_clock
from app.platform.db import SessionDep
from app.platform.language import Language
from app.risk import catalogue
from app.risk import config as risk_config
from app.risk.config import RiskConfig
from app.risk.instruments import InstrumentRegistry
from app.risk.models import Assessment

InstrumentReader = Annotated[Principal, Depends(require(Action.INSTRUMENT_READ))]

DEFAULT_LANGUAGE = Language.FI


async def get_registry(session: SessionDep) -> InstrumentRegistry:
    """Shipped and published versions together (the database decides which exist)."""
    return await catalogue.registry(session)


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


async def preferred_language(
    lang: Annotated[
        Language | None, Query(description="fi, sv or en; overrides Accept-Language.")
    ] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> Language:
    return lang or negotiate_language(accept_language)


PreferredLanguage = Annotated[Language, Depends(preferred_language)]


# --- case-scoped risk routes -------------------------------------------------------------


async def _clock() -> Clock:
    # async, like every dependency: a plain ``def`` would run in the thread pool.
    return get_clock()


async def _risk_config() -> RiskConfig:
    return risk_config.current()


ClockDep = Annotated[Clock, Depends(_clock)]
RiskConfigDep = Annotated[RiskConfig, Depends(_risk_config)]

InstrumentPublisher = Annotated[Principal, Depends(require(Action.INSTRUMENT_PUBLISH))]
AssessmentReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_ASSESSMENT_READ))]
AssessmentWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_ASSESSMENT_WRITE))]
IncidentReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_INCIDENT_READ))]
IncidentWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_INCIDENT_WRITE))]
ExternalReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_EXTERNAL_READ))]
ExternalWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_EXTERNAL_WRITE))]


@dataclass(frozen=True)
class AssessmentAccess:
    assessment: Assessment
    case: CaseAccess


async def load_assessment(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID, action: str
) -> AssessmentAccess:
    """The assessment, through the readable-cases query (404, audited, if not visible)."""
    readable = readable_cases(principal).with_only_columns(Case.id)
    assessment = await session.scalar(
        select(Assessment).where(Assessment.id == assessment_id, Assessment.case_id.in_(readable))
    )
    if assessment is None:
        raise not_found(action, principal, "assessment", assessment_id)
    access = await load_case_access(session, principal, assessment.case_id, action)
    return AssessmentAccess(assessment, access)


def assessment_access(action: Action) -> Callable[..., Awaitable[AssessmentAccess]]:
    """Role check, then the assessment loaded *through* the readable-cases query (404
    for a case the caller may not see), then the relation the POLICY row names."""
    guard = require(action)
    _roles, relation = POLICY[action]

    async def load(session: AsyncSession, principal: Principal, id: uuid.UUID) -> AssessmentAccess:
        found = await load_assessment(session, principal, id, str(action))
        await enforce_relation(session, found.case, relation, str(action))
        return found

    dependency = path_loader(guard, "assessment_id", load, "The assessment id.")

    return mark_loader(dependency, "assessment", action, relation, "path:assessment_id")


CurrentAssessment = Annotated[
    AssessmentAccess, Depends(assessment_access(Action.CASE_ASSESSMENT_READ))
]
WritableAssessment = Annotated[
    AssessmentAccess, Depends(assessment_access(Action.CASE_ASSESSMENT_WRITE))
]

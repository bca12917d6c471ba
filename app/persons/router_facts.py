"""A case's facts about a person: address or shelter, phones, safe contact.

Recorded in a case, read and corrected only through it: the path names the
case, and the caller must read that case (and the person must take part in
it), else 404.
"""

from __future__ import annotations

from fastapi import Response

from app.persons import facts
from app.persons.dependencies import CaseFactsHistoryReader, CaseFactsReader, CaseFactsUpdater
from app.persons.fact_schemas import AnyFacts, FactsHistory, FactsUpdate
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, tagged
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["persons"])
BASE = "/cases/{case_id}/persons/{person_id}/facts"


@router.get(BASE, response_model=AnyFacts)
async def get_case_facts(
    session: SessionDep, access: CaseFactsReader, keyring: KeyRingDep, response: Response
) -> AnyFacts:
    """What this case recorded about reaching the person, as your role may see it
    (version 0: nothing recorded yet)."""
    out, version = await facts.read_facts(session, keyring, access)
    return tagged(response, version, out)


@router.patch(BASE, response_model=AnyFacts)
async def correct_case_facts(
    body: FactsUpdate,
    session: SessionDep,
    access: CaseFactsUpdater,
    keyring: KeyRingDep,
    expected: IfMatch,
    response: Response,
) -> AnyFacts:
    """Record or correct this case's facts: a new version with you as author and
    the reason (If-Match: "0" for the first)."""
    out, version = await facts.correct_facts(session, keyring, access, body, expected)
    return tagged(response, version, out)


@router.get(BASE + "/history", response_model=FactsHistory)
async def get_case_facts_history(
    session: SessionDep, access: CaseFactsHistoryReader, keyring: KeyRingDep
) -> FactsHistory:
    """Every version of this case's facts, with author and reason."""
    return await facts.facts_history(session, keyring, access)

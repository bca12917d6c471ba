"""Consent and legal-basis routes, and the auditor's access report."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from app.cases.dependencies import replayed
from app.cases.models import CaseParticipant
from app.concerns.models import Concern
from app.db import SessionDep
from app.idempotency import Idempotency
from app.inputs import UtcDatetime
from app.persons import consents
from app.persons.access_report import AccessReport, access_report
from app.persons.consent_schemas import ConsentCreate, ConsentList, ConsentRead, ConsentWithdrawal
from app.persons.dependencies import (
    AccessReportReader,
    ConsentReader,
    ConsentWriter,
    visible_person_ids,
)

router = APIRouter(prefix="/api/v1", tags=["persons"])
BASE = "/persons/{person_id}/consents"


@router.get(BASE, response_model=ConsentList)
async def list_consents(session: SessionDep, access: ConsentReader) -> ConsentList:
    """Every consent and legal basis on record, withdrawn ones included."""
    return ConsentList(items=await consents.list_consents(session, access))


@router.post(BASE, response_model=ConsentRead, status_code=201)
async def record_consent(
    body: ConsentCreate,
    session: SessionDep,
    access: ConsentWriter,
    idempotency: Idempotency,
    response: Response,
) -> ConsentRead | Response:
    """Record a consent (who gave it, how, when) or a statutory basis for sharing."""
    principal = access.principal
    if (replay := await idempotency.begin(session, principal.user_id, body)) is not None:
        return replayed(session, principal, replay)
    consent = await consents.record_consent(session, access, body, visible_person_ids(principal))
    out = consents.to_read(consent)
    response.headers["Location"] = f"/api/v1/persons/{access.person.id}/consents/{consent.id}"
    await idempotency.complete(
        session, 201, out, response.headers, target_type="person", target_id=access.person.id
    )
    return out


@router.post(BASE + "/{consent_id}/withdrawal", response_model=ConsentRead)
async def withdraw_consent(
    consent_id: uuid.UUID, body: ConsentWithdrawal, session: SessionDep, access: ConsentWriter
) -> ConsentRead:
    """Withdraw: sharing on this basis stops now; the record and its history stay."""
    return consents.to_read(await consents.withdraw_consent(session, access, consent_id, body))


@router.get("/persons/{person_id}/access-report", response_model=AccessReport)
async def get_access_report(
    person_id: uuid.UUID,
    session: SessionDep,
    principal: AccessReportReader,
    since: Annotated[UtcDatetime | None, Query(description="Default: two years back.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Default: now.")] = None,
) -> AccessReport:
    """Who processed this person's data, to whom it was disclosed and on what basis.

    For data-protection officers. Handing it to the person is a human decision.
    """
    participations = (
        await session.scalars(
            select(CaseParticipant.id).where(CaseParticipant.person_id == person_id)
        )
    ).all()
    concerns = (
        await session.scalars(select(Concern.id).where(Concern.person_id == person_id))
    ).all()
    related = [("case_participant", p) for p in participations]
    related += [("concern", c) for c in concerns]
    return await access_report(session, principal, person_id, related, since, until)

"""Consent and legal-basis routes, and the auditor's access report."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import select

from app.audit import service as audit
from app.auth.policy import Action
from app.cases.access import not_found
from app.cases.models import CaseParticipant
from app.concerns.models import Concern
from app.persons import consents
from app.persons.access_report import AccessReport, access_report
from app.persons.consent_schemas import ConsentCreate, ConsentList, ConsentRead, ConsentWithdrawal
from app.persons.dependencies import (
    AccessReportReader,
    ConsentReader,
    ConsentWriter,
    through_case,
    visible_person_ids,
)
from app.persons.models import Consent
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.idempotency import Idempotency, create_once
from app.platform.inputs import UtcDatetime
from app.platform.lookup import named_or_422
from app.platform.routing import api_router
from app.referrals.models import ServiceEntry

router = api_router(prefix="/api/v1", tags=["persons"])
BASE = "/persons/{person_id}/consents"


@router.get(BASE, response_model=ConsentList)
async def list_consents(
    session: SessionDep, keyring: KeyRingDep, access: ConsentReader
) -> ConsentList:
    """The consents and legal bases given for the cases you read the person through,
    withdrawn ones included (never another case's)."""
    return ConsentList(items=await consents.list_consents(session, keyring, access))


@router.post(BASE, response_model=ConsentRead, status_code=201)
async def record_consent(
    body: ConsentCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: ConsentWriter,
    idempotency: Idempotency,
    response: Response,
) -> ConsentRead:
    """Record a consent (who gave it, how, when) or a statutory basis for sharing."""
    principal = access.principal
    # Bound to the case it is given for: 404 unless that case is readable and the
    # person takes part in it.
    access = through_case(access, body.case_id)

    async def create() -> tuple[ConsentRead, uuid.UUID]:
        service_name = None
        if body.service_id is not None:
            detail = "No such service in the directory."
            entry = await named_or_422(session, ServiceEntry, body.service_id, "service_id", detail)
            service_name = entry.name
        consent = await consents.record_consent(
            session, keyring, access, body, visible_person_ids(principal), service_name
        )
        location = f"/api/v1/persons/{access.person.id}/consents/{consent.id}"
        response.headers["Location"] = location
        return await consents.read_one(session, keyring, consent), consent.id

    async def reread(target_id: str) -> ConsentRead:
        consent = await session.scalar(  # of this person, in the case just checked readable
            select(Consent).where(
                Consent.id == uuid.UUID(target_id),
                Consent.person_id == access.person.id,
                Consent.case_id == body.case_id,
            )
        )
        if consent is None:
            raise not_found(Action.CONSENT_READ, principal, "consent", target_id)
        audit.record(
            session,
            principal,
            "person.consents.read",
            "person",
            access.person.id,
            purpose=access.purpose,
        )
        return await consents.read_one(session, keyring, consent)

    return await create_once(
        idempotency, session, principal, body, response, "consent", create, reread
    )


@router.post(BASE + "/{consent_id}/withdrawal", response_model=ConsentRead)
async def withdraw_consent(
    consent_id: uuid.UUID,
    body: ConsentWithdrawal,
    session: SessionDep,
    keyring: KeyRingDep,
    access: ConsentWriter,
) -> ConsentRead:
    """Withdraw: sharing on this basis stops now; the record and its history stay."""
    consent = await consents.withdraw_consent(session, keyring, access, consent_id, body)
    return await consents.read_one(session, keyring, consent)


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

"""Plan routes: ``/api/v1/cases/{id}/plan`` (versions), its measures and the document."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import Query, Response

from app.auth.policy import Action
from app.casekeys.service import case_cipher
from app.cases.access import not_found
from app.plans import document, service
from app.plans import measures as measure_service
from app.plans.dependencies import (
    MeasureStatusChanger,
    PlanAgreer,
    PlanDocumenter,
    PlanReader,
    PlanWriter,
)
from app.plans.models import Measure, Plan
from app.plans.schemas import (
    DocumentFormat,
    MeasureCreate,
    MeasureRead,
    MeasureStatusChange,
    MeasureUpdate,
    PlanAgree,
    PlanCreate,
    PlanRead,
    PlanReview,
    PlanRevise,
    PlanUpdate,
    PlanVersionRead,
)
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.language import Language
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["plans"])
BASE = "/cases/{case_id}/plan"


@router.get(BASE, response_model=PlanRead)
async def get_plan(
    session: SessionDep, keyring: KeyRingDep, access: PlanReader, response: Response
) -> PlanRead:
    """The case's plan: its newest version (draft or agreed) and its measures."""
    plan = await service.get_plan(session, access, access.action)
    out = await service.plan_read(session, keyring, access, plan)
    access.audit(session, "plan.read", "plan", plan.id)
    return tagged(response, plan.version, out)


@router.post(BASE, response_model=PlanRead, status_code=201)
async def create_plan(
    body: PlanCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanWriter,
    idempotency: Idempotency,
    response: Response,
) -> PlanRead:
    """Start the case's plan (its kind follows the scheme) as draft version 1."""

    async def create() -> tuple[PlanRead, uuid.UUID]:
        plan = await service.create_plan(session, keyring, access, body)
        set_created(response, plan.version, f"/api/v1/cases/{access.case.id}/plan")
        return await service.plan_read(session, keyring, access, plan), plan.id

    async def reread(target_id: str) -> PlanRead:
        plan = await service.get_plan(session, access, Action.CASE_PLAN_READ)
        if str(plan.id) != target_id:
            raise not_found(Action.CASE_PLAN_READ, access.principal, "plan", target_id)
        out = await service.plan_read(session, keyring, access, plan)
        access.audit(session, "plan.read", "plan", plan.id)
        return tagged(response, plan.version, out)

    return await create_once(
        idempotency, session, access.principal, body, response, "plan", create, reread
    )


async def _plan_out(
    session: SessionDep, keyring: KeyRingDep, access: PlanReader, response: Response
) -> PlanRead:
    plan = await service.get_plan(session, access, Action.CASE_PLAN_READ)
    await session.refresh(plan)
    return tagged(response, plan.version, await service.plan_read(session, keyring, access, plan))


@router.patch(BASE, response_model=PlanRead)
async def update_plan(
    body: PlanUpdate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanWriter,
    expected: IfMatch,
    response: Response,
) -> PlanRead:
    """Edit the draft. An agreed version is frozen (409 ``plan-locked``)."""
    plan = await service.get_plan(session, access, access.action)
    await service.update_plan(session, keyring, access, plan, body, expected)
    return await _plan_out(session, keyring, access, response)


@router.get(BASE + "/versions", response_model=list[PlanVersionRead])
async def list_versions(
    session: SessionDep, keyring: KeyRingDep, access: PlanReader
) -> list[PlanVersionRead]:
    """Every version, newest first: what was agreed stays readable as it was."""
    plan = await service.get_plan(session, access, access.action)
    return await service.list_versions(session, keyring, access, plan)


@router.post(BASE + "/agree", response_model=PlanRead)
async def agree_plan(
    body: PlanAgree,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanAgreer,
    expected: IfMatch,
    response: Response,
) -> PlanRead:
    """Agree (and freeze) the draft: a lead of the case or the team's coordinator."""
    plan = await service.get_plan(session, access, access.action)
    await service.agree_plan(session, keyring, access, plan, body, expected)
    return await _plan_out(session, keyring, access, response)


@router.post(BASE + "/revisions", response_model=PlanRead, status_code=201)
async def revise_plan(
    body: PlanRevise,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanWriter,
    expected: IfMatch,
    response: Response,
) -> PlanRead:
    """Start a new draft from the agreed version."""
    plan = await service.get_plan(session, access, access.action)
    await service.revise_plan(session, keyring, access, plan, body, expected)
    return await _plan_out(session, keyring, access, response)


@router.post(BASE + "/review", response_model=PlanRead)
async def review_plan(
    body: PlanReview,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanAgreer,
    expected: IfMatch,
    response: Response,
) -> PlanRead:
    """Record the follow-up review and set (or clear) the case's next review date."""
    plan = await service.get_plan(session, access, access.action)
    await service.review_plan(session, keyring, access, plan, body, expected)
    return await _plan_out(session, keyring, access, response)


@router.get(BASE + "/measures", response_model=list[MeasureRead])
async def list_measures(
    session: SessionDep, keyring: KeyRingDep, access: PlanReader
) -> list[MeasureRead]:
    """The measures of the case's safety plan, with their status and due dates."""
    plan = await service.get_plan(session, access, access.action)
    rows = await measure_service.list_measures(session, access, plan)
    return await _measure_reads(session, keyring, plan, rows)


async def _measure_reads(
    session: SessionDep, keyring: KeyRingDep, plan: Plan, rows: Sequence[Measure]
) -> list[MeasureRead]:
    cipher = await case_cipher(session, keyring, plan.case_id)
    return [service.measure_read(cipher, m) for m in rows]


@router.post(BASE + "/measures", response_model=MeasureRead, status_code=201)
async def add_measure(
    body: MeasureCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanWriter,
    idempotency: Idempotency,
    response: Response,
) -> MeasureRead:
    """Add a measure to the draft, owned by one organisation (and optionally a member)."""

    async def create() -> tuple[MeasureRead, uuid.UUID]:
        plan = await service.get_plan(session, access, access.action)
        measure = await measure_service.add_measure(session, keyring, access, plan, body)
        set_created(
            response, measure.version, f"/api/v1/cases/{access.case.id}/plan/measures/{measure.id}"
        )
        return (await _measure_reads(session, keyring, plan, [measure]))[0], measure.id

    async def reread(target_id: str) -> MeasureRead:
        action = Action.CASE_PLAN_READ
        plan = await service.get_plan(session, access, action)
        measure = await measure_service.get_measure(
            session, access, plan, uuid.UUID(target_id), action
        )
        return tagged(
            response, measure.version, (await _measure_reads(session, keyring, plan, [measure]))[0]
        )

    return await create_once(
        idempotency, session, access.principal, body, response, "measure", create, reread
    )


@router.patch(BASE + "/measures/{measure_id}", response_model=MeasureRead)
async def update_measure(
    measure_id: uuid.UUID,
    body: MeasureUpdate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanWriter,
    expected: IfMatch,
    response: Response,
) -> MeasureRead:
    """Change a measure's definition (or drop it) while the plan is a draft."""
    plan = await service.get_plan(session, access, access.action)
    measure = await measure_service.get_measure(session, access, plan, measure_id, access.action)
    await measure_service.update_measure(session, keyring, access, plan, measure, body, expected)
    return tagged(
        response, measure.version, (await _measure_reads(session, keyring, plan, [measure]))[0]
    )


@router.post(BASE + "/measures/{measure_id}/status", response_model=MeasureRead)
async def change_measure_status(
    measure_id: uuid.UUID,
    body: MeasureStatusChange,
    session: SessionDep,
    keyring: KeyRingDep,
    access: MeasureStatusChanger,
    expected: IfMatch,
    response: Response,
) -> MeasureRead:
    """Move a measure's status; cancelling needs the reason in ``outcome_note``."""
    action = access.action
    plan = await service.get_plan(session, access, action)
    measure = await measure_service.get_measure(session, access, plan, measure_id, action)
    await measure_service.change_status(session, keyring, access, plan, measure, body, expected)
    return tagged(
        response, measure.version, (await _measure_reads(session, keyring, plan, [measure]))[0]
    )


@router.get(
    BASE + "/document",
    response_class=Response,
    responses={
        200: {
            "content": {"text/html": {}, "application/pdf": {}},
            "description": "The printable plan for the victim or young person.",
        }
    },
)
async def plan_document(
    session: SessionDep,
    keyring: KeyRingDep,
    access: PlanDocumenter,
    format: DocumentFormat = DocumentFormat.HTML,
    recipient_person_id: uuid.UUID | None = Query(
        default=None,
        description="The participant it is for; by default the victim or young person.",
    ),
    lang: Language | None = Query(default=None, description="Overrides the preferred language."),
) -> Response:
    """The agreed plan written for the person it protects, in their language.

    It holds their measures, contacts and the safe-contact arrangement, and
    nothing else: no internal notes, no agency research, nothing about the
    perpetrator beyond what the plan itself says. A recipient on the case's
    must-not-receive list is refused (409)."""
    plan = await service.get_plan(session, access, access.action)
    return await document.produce(session, keyring, access, plan, format, recipient_person_id, lang)

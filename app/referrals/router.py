"""Referral routes: made in a case, answered by the service, rendered as FHIR R4."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import Query, Response

from app.auth.policy import Action
from app.casekeys.service import case_cipher
from app.cases.access import not_found
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, etag, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router
from app.referrals import fhir, fhir_schemas, inbox, service, transitions, views
from app.referrals.dependencies import (
    CaseReferralReader,
    CaseReferrer,
    ReferralLister,
    ReferralMover,
    ReferralReader,
    ReferralUpdater,
    SettingsDep,
)
from app.referrals.schemas import (
    AnyReferralView,
    ProviderReferralRead,
    ReferralBox,
    ReferralCreate,
    ReferralDetail,
    ReferralPage,
    ReferralRead,
    ReferralTransitionCreate,
    ReferralUpdate,
)
from app.referrals.service import ReferralAccess
from app.referrals.states import ReferralUrgency, Side, Status

router = api_router(prefix="/api/v1", tags=["referrals"])
fhir_router = api_router(prefix="/fhir/R4", tags=["fhir"])
View = AnyReferralView
StatusFilter = Annotated[
    list[Status] | None, Query(description="One or more statuses (repeat the parameter).")
]


async def _out(
    session: SessionDep, keyring: KeyRingDep, access: ReferralAccess, response: Response
) -> View:
    view = await views.detail(session, keyring, access)
    return tagged(response, access.referral.version, view)


@router.post("/cases/{case_id}/referrals", response_model=ReferralDetail, status_code=201)
async def create_referral(
    body: ReferralCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseReferrer,
    idempotency: Idempotency,
    response: Response,
) -> View:
    """Refer a participant of the case to a service, as a draft; send it with a
    transition to ``requested``. Needs the subject's consent or statutory basis for
    service referral, and neither the subject nor the service's organisation may be
    on the case's must-not-receive list."""

    async def create() -> tuple[View, uuid.UUID]:
        referral = await service.create_referral(session, keyring, access, body)
        ref_access = ReferralAccess(
            referral, access.principal, Side.REFERRER, access, access.action
        )
        out = await _out(session, keyring, ref_access, response)
        response.headers["Location"] = f"/api/v1/referrals/{referral.id}"
        return out, referral.id

    async def reread(target_id: str) -> View:
        action = Action.REFERRAL_READ
        found = await service.load_referral(session, access.principal, uuid.UUID(target_id), action)
        if found.side != Side.REFERRER or found.referral.case_id != access.case.id:
            raise not_found(action, access.principal, "referral", target_id)
        out = await _out(session, keyring, found, response)
        service.audit_person(session, access.principal, action, found.referral, found.purpose)
        return out

    return await create_once(
        idempotency, session, access.principal, body, response, "referral", create, reread
    )


@router.get("/cases/{case_id}/referrals", response_model=ReferralPage)
async def list_case_referrals(
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseReferralReader,
    status: StatusFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ReferralRead | ProviderReferralRead]:
    """The case's referrals, newest first."""
    items, nxt = await inbox.list_referrals(
        session,
        keyring,
        access.principal,
        box=ReferralBox.OUTBOX,
        statuses=status,
        case_id=access.case.id,
        cursor=cursor,
        limit=limit,
    )
    return Page[ReferralRead | ProviderReferralRead](items=items, next_cursor=nxt)


@router.get("/referrals", response_model=ReferralPage)
async def list_referrals(
    session: SessionDep,
    keyring: KeyRingDep,
    principal: ReferralLister,
    box: Annotated[
        ReferralBox | None,
        Query(
            description="inbox: sent to my organisation; outbox: from my cases. "
            "Default: inbox for service providers, else outbox."
        ),
    ] = None,
    status: StatusFilter = None,
    case_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    urgency: ReferralUrgency | None = None,
    overdue: Annotated[
        bool | None, Query(description="Only those past (or not past) the response target.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ReferralRead | ProviderReferralRead]:
    """Referrals newest first. A service provider sees only those sent to their own
    organisation, and only what was shared with it."""
    items, nxt = await inbox.list_referrals(
        session,
        keyring,
        principal,
        box=box or inbox.default_box(principal),
        statuses=status,
        case_id=case_id,
        service_id=service_id,
        urgency=urgency,
        overdue=overdue,
        cursor=cursor,
        limit=limit,
    )
    return Page[ReferralRead | ProviderReferralRead](items=items, next_cursor=nxt)


@router.get("/referrals/{referral_id}", response_model=View)
async def get_referral(
    session: SessionDep, keyring: KeyRingDep, access: ReferralReader, response: Response
) -> View:
    """The referral: in full with its history for the case's readers; the shared
    minimum for the receiving service."""
    out = await _out(session, keyring, access, response)
    why = "service referral" if access.side == Side.PROVIDER else access.purpose
    service.audit_person(session, access.principal, access.action, access.referral, why)
    return out


@router.patch("/referrals/{referral_id}", response_model=ReferralDetail)
async def update_referral(
    body: ReferralUpdate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: ReferralUpdater,
    expected: IfMatch,
    response: Response,
) -> View:
    """Change a draft (only a draft: what was sent is what the service got)."""
    await service.update_draft(session, keyring, access, body, expected)
    return await _out(session, keyring, access, response)


@router.post("/referrals/{referral_id}/transitions", response_model=View)
async def transition_referral(
    body: ReferralTransitionCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    settings: SettingsDep,
    access: ReferralMover,
    expected: IfMatch,
    response: Response,
) -> View:
    """Move the referral. The referrer sends (``requested``) and may cancel any open
    referral; the service moves it through received, accepted or rejected,
    in_progress, on_hold and back, completed or failed. Rejected, failed and
    cancelled need ``reason_code`` and ``reason_text``; completed needs ``outcome``.
    An illegal move is 409 with the moves open to you in ``allowed``."""
    await transitions.transition(session, keyring, settings, access, body, expected)
    return await _out(session, keyring, access, response)


@router.post("/referrals/{referral_id}/acknowledge-expiry", response_model=ReferralDetail)
async def acknowledge_expiry(
    session: SessionDep,
    keyring: KeyRingDep,
    access: ReferralUpdater,
    expected: IfMatch,
    response: Response,
) -> View:
    """The referrer has seen that the referral expired: clears its /me/tasks entry."""
    await transitions.acknowledge_expiry(session, access, expected)
    return await _out(session, keyring, access, response)


# --- FHIR R4 ----------------------------------------------------------------------------


async def _fhir_parts(
    session: SessionDep, keyring: KeyRingDep, access: ReferralAccess
) -> tuple[ProviderReferralRead, views.Context]:
    referral = access.referral
    ctx = await views.context_of(session, referral)
    # Only the minimum, whoever asks: render the provider's view.
    case = await case_cipher(session, keyring, referral.case_id)
    view = views.render(case, referral, ctx, Side.PROVIDER, False)
    assert isinstance(view, ProviderReferralRead)
    why = "service referral (FHIR)" if access.side == Side.PROVIDER else access.purpose
    service.audit_person(session, access.principal, "referral.read.fhir", referral, why)
    return view, ctx


def _fhir(resource: dict[str, object], version: int) -> Response:
    body = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
    return Response(body, media_type=fhir.FHIR_JSON, headers={"ETag": etag(version)})


def _fhir_responses(schema: dict[str, object]) -> dict[int | str, dict[str, object]]:
    return {200: {"description": "The resource.", "content": {fhir.FHIR_JSON: {"schema": schema}}}}


@fhir_router.get(
    "/ServiceRequest/{referral_id}",
    response_class=Response,
    responses=_fhir_responses(fhir_schemas.SERVICE_REQUEST),
)
async def fhir_service_request(
    session: SessionDep, keyring: KeyRingDep, access: ReferralReader
) -> Response:
    """The referral as a FHIR R4 ServiceRequest (the shared minimum only)."""
    view, ctx = await _fhir_parts(session, keyring, access)
    return _fhir(fhir.service_request(view, access.referral, ctx), access.referral.version)


@fhir_router.get(
    "/Task/{referral_id}", response_class=Response, responses=_fhir_responses(fhir_schemas.TASK)
)
async def fhir_task(session: SessionDep, keyring: KeyRingDep, access: ReferralReader) -> Response:
    """The referral's workflow as a FHIR R4 Task whose focus is the ServiceRequest."""
    view, ctx = await _fhir_parts(session, keyring, access)
    return _fhir(fhir.task(view, access.referral, ctx), access.referral.version)

"""Access request routes (GDPR art. 15): record, list, read, decide, export. Thin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response

from app.access_requests import extension, service
from app.access_requests.dependencies import (
    ControlledRequest,
    RequestDecision,
    RequestExport,
    RequestLister,
    RequestRead,
    RequestRecorder,
)
from app.access_requests.export import build_export
from app.access_requests.models import AccessRequest
from app.access_requests.pdf import render_pdf
from app.access_requests.schemas import (
    AccessExport,
    AccessRequestApproval,
    AccessRequestCreate,
    AccessRequestExtension,
    AccessRequestPage,
    AccessRequestRead,
    AccessRequestRefusal,
    RequestStatus,
)
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["access-requests"])
BASE = "/access-requests"


def _located(response: Response, request_id: uuid.UUID, version: int) -> None:
    set_created(response, version, f"/api/v1{BASE}/{request_id}")


@router.post(BASE, response_model=AccessRequestRead, status_code=201)
async def record_access_request(
    body: AccessRequestCreate,
    session: SessionDep,
    principal: RequestRecorder,
    idempotency: Idempotency,
    response: Response,
) -> AccessRequestRead:
    """Record a person's request for their data. Its deadline is one month from
    receipt; another person decides it (four eyes)."""

    async def create() -> tuple[AccessRequestRead, uuid.UUID]:
        request = await service.record_request(session, principal, body)
        _located(response, request.id, request.version)
        return await service.to_read(session, request), request.id

    async def reread(target_id: str) -> AccessRequestRead:
        request = await session.get(AccessRequest, uuid.UUID(target_id))
        assert request is not None  # the replay names what this caller created
        service.read_request(session, principal, request)
        return tagged(response, request.version, await service.to_read(session, request))

    return await create_once(
        idempotency, session, principal, body, response, service.TARGET, create, reread
    )


@router.get(BASE, response_model=AccessRequestPage)
async def list_access_requests(
    session: SessionDep,
    principal: RequestLister,
    status: Annotated[RequestStatus | None, Query(description="Only this status.")] = None,
    overdue: Annotated[
        bool | None, Query(description="Only those past (or not past) their deadline.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> AccessRequestPage:
    """The caller's organisation's access requests, newest first, by status and
    whether they are overdue."""
    items, nxt = await service.list_requests(session, principal, status, overdue, cursor, limit)
    return AccessRequestPage(items=await service.to_reads(session, items), next_cursor=nxt)


@router.get(BASE + "/{request_id}", response_model=AccessRequestRead)
async def get_access_request(
    loaded: RequestRead, session: SessionDep, response: Response
) -> AccessRequestRead:
    """One access request of the caller's organisation (another's is a 404): its
    deadline, a pending extension, the decision and every delivered export's hash."""
    service.read_request(session, loaded.principal, loaded.request)
    return await _answer(session, loaded, response)


async def _answer(
    session: SessionDep, loaded: ControlledRequest, response: Response
) -> AccessRequestRead:
    return tagged(response, loaded.request.version, await service.to_read(session, loaded.request))


@router.post(BASE + "/{request_id}/approval", response_model=AccessRequestRead)
async def approve_access_request(
    body: AccessRequestApproval,
    loaded: RequestDecision,
    session: SessionDep,
    expected: IfMatch,
    response: Response,
) -> AccessRequestRead:
    """Approve: by another person than the recorder (403 otherwise); final. Police
    operational data may be withheld on a ground, which is recorded."""
    await service.approve(session, loaded.principal, loaded.request, body, expected)
    return await _answer(session, loaded, response)


@router.post(BASE + "/{request_id}/refusal", response_model=AccessRequestRead)
async def refuse_access_request(
    body: AccessRequestRefusal,
    loaded: RequestDecision,
    session: SessionDep,
    expected: IfMatch,
    response: Response,
) -> AccessRequestRead:
    """Refuse on a ground: by another person than the recorder; final, never exported."""
    await service.refuse(session, loaded.principal, loaded.request, body, expected)
    return await _answer(session, loaded, response)


@router.post(BASE + "/{request_id}/extension", response_model=AccessRequestRead)
async def propose_access_request_extension(
    body: AccessRequestExtension,
    loaded: RequestDecision,
    session: SessionDep,
    expected: IfMatch,
    response: Response,
) -> AccessRequestRead:
    """Propose extending the deadline by two months, once, on a reason (GDPR art.
    12(3)). It takes effect when another auditor confirms it (four eyes). The person
    must be told within the first month, with the reasons."""
    await extension.propose_extension(session, loaded.principal, loaded.request, body, expected)
    return await _answer(session, loaded, response)


@router.post(BASE + "/{request_id}/extension/confirmation", response_model=AccessRequestRead)
async def confirm_access_request_extension(
    loaded: RequestDecision, session: SessionDep, expected: IfMatch, response: Response
) -> AccessRequestRead:
    """Confirm the pending extension: by another auditor than the proposer (403
    otherwise). The deadline becomes three months from receipt."""
    await extension.confirm_extension(session, loaded.principal, loaded.request, expected)
    return await _answer(session, loaded, response)


async def _export(
    session: SessionDep, keyring: KeyRingDep, loaded: ControlledRequest
) -> tuple[AccessExport, int]:
    service.require_approved(loaded.principal, loaded.request)
    return await build_export(session, keyring, loaded.principal, loaded.request)


@router.get(BASE + "/{request_id}/export.json", response_model=AccessExport)
async def export_access_request_json(
    loaded: RequestExport, session: SessionDep, keyring: KeyRingDep
) -> Response:
    """What is held about the person, as JSON: approved requests only (409 otherwise).
    Generated on each request from the live records, never stored; the SHA-256 of the
    bytes sent is recorded as a delivery."""
    export, withheld = await _export(session, keyring, loaded)
    body = export.model_dump_json().encode()
    await service.mark_exported(session, loaded.principal, loaded.request, "json", body, withheld)
    return Response(body, media_type="application/json")


@router.get(
    BASE + "/{request_id}/export.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The readable export."}},
)
async def export_access_request_pdf(
    loaded: RequestExport, session: SessionDep, keyring: KeyRingDep
) -> Response:
    """The same export as a readable PDF: approved requests only (409 otherwise);
    its SHA-256 is recorded as a delivery."""
    export, withheld = await _export(session, keyring, loaded)
    body = render_pdf(export)
    await service.mark_exported(session, loaded.principal, loaded.request, "pdf", body, withheld)
    request_id = loaded.request.id
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="access-{request_id}.pdf"'},
    )

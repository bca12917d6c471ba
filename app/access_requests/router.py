"""Access request routes (GDPR art. 15): record, list, read, decide, export. Thin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.access_requests import service
from app.access_requests.dependencies import (
    RequestDecider,
    RequestExporter,
    RequestReader,
    RequestRecorder,
)
from app.access_requests.export import build_export
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
from app.auth.policy import Action
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_etag
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit

router = APIRouter(prefix="/api/v1", tags=["access-requests"])
BASE = "/access-requests"
RequestId = Annotated[uuid.UUID, Path(description="The access request id.")]


def _located(response: Response, request_id: uuid.UUID, version: int) -> None:
    response.headers["Location"] = f"/api/v1{BASE}/{request_id}"
    set_etag(response, version)


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
        return service.to_read(request), request.id

    async def reread(target_id: str) -> AccessRequestRead:
        request = await service.read_request(session, principal, uuid.UUID(target_id))
        set_etag(response, request.version)
        return service.to_read(request)

    return await create_once(
        idempotency, session, principal, body, response, service.TARGET, create, reread
    )


@router.get(BASE, response_model=AccessRequestPage)
async def list_access_requests(
    session: SessionDep,
    principal: RequestReader,
    status: Annotated[RequestStatus | None, Query(description="Only this status.")] = None,
    overdue: Annotated[
        bool | None, Query(description="Only those past (or not past) their deadline.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> AccessRequestPage:
    """Access requests, newest first, by status and whether they are overdue."""
    items, nxt = await service.list_requests(session, principal, status, overdue, cursor, limit)
    return AccessRequestPage(items=[service.to_read(r) for r in items], next_cursor=nxt)


@router.get(BASE + "/{request_id}", response_model=AccessRequestRead)
async def get_access_request(
    request_id: RequestId, session: SessionDep, principal: RequestReader, response: Response
) -> AccessRequestRead:
    """One access request: its deadline, decision and exports."""
    request = await service.read_request(session, principal, request_id)
    set_etag(response, request.version)
    return service.to_read(request)


@router.post(BASE + "/{request_id}/approval", response_model=AccessRequestRead)
async def approve_access_request(
    request_id: RequestId,
    body: AccessRequestApproval,
    session: SessionDep,
    principal: RequestDecider,
    expected: IfMatch,
    response: Response,
) -> AccessRequestRead:
    """Approve: by another person than the recorder (403 otherwise); final. Police
    operational data may be withheld on a ground, which is recorded."""
    request = await service.load_request(
        session, principal, request_id, Action.ACCESS_REQUEST_DECIDE
    )
    await service.approve(session, principal, request, body, expected)
    set_etag(response, request.version)
    return service.to_read(request)


@router.post(BASE + "/{request_id}/refusal", response_model=AccessRequestRead)
async def refuse_access_request(
    request_id: RequestId,
    body: AccessRequestRefusal,
    session: SessionDep,
    principal: RequestDecider,
    expected: IfMatch,
    response: Response,
) -> AccessRequestRead:
    """Refuse on a ground: by another person than the recorder; final, never exported."""
    request = await service.load_request(
        session, principal, request_id, Action.ACCESS_REQUEST_DECIDE
    )
    await service.refuse(session, principal, request, body, expected)
    set_etag(response, request.version)
    return service.to_read(request)


@router.post(BASE + "/{request_id}/extension", response_model=AccessRequestRead)
async def extend_access_request(
    request_id: RequestId,
    body: AccessRequestExtension,
    session: SessionDep,
    principal: RequestDecider,
    expected: IfMatch,
    response: Response,
) -> AccessRequestRead:
    """Extend the deadline by two months, once, on a reason (GDPR art. 12(3)). The
    person must be told within the first month, with the reasons."""
    request = await service.load_request(
        session, principal, request_id, Action.ACCESS_REQUEST_DECIDE
    )
    await service.extend(session, principal, request, body, expected)
    set_etag(response, request.version)
    return service.to_read(request)


async def _export(
    session: SessionDep,
    keyring: KeyRingDep,
    principal: RequestExporter,
    request_id: uuid.UUID,
    fmt: str,
) -> AccessExport:
    request = await service.load_request(
        session, principal, request_id, Action.ACCESS_REQUEST_EXPORT
    )
    service.require_approved(principal, request)
    export = await build_export(session, keyring, principal, request)
    await service.mark_exported(session, principal, request, fmt)
    return export


@router.get(BASE + "/{request_id}/export.json", response_model=AccessExport)
async def export_access_request_json(
    request_id: RequestId, session: SessionDep, keyring: KeyRingDep, principal: RequestExporter
) -> AccessExport:
    """What is held about the person, as JSON: approved requests only (409 otherwise).
    Generated on each request from the live records, never stored."""
    return await _export(session, keyring, principal, request_id, "json")


@router.get(
    BASE + "/{request_id}/export.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The readable export."}},
)
async def export_access_request_pdf(
    request_id: RequestId, session: SessionDep, keyring: KeyRingDep, principal: RequestExporter
) -> Response:
    """The same export as a readable PDF: approved requests only (409 otherwise)."""
    export = await _export(session, keyring, principal, request_id, "pdf")
    return Response(
        render_pdf(export),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="access-{request_id}.pdf"'},
    )

"""Extending an access request's deadline: two more months, once (GDPR art. 12(3)),
and four eyes: one auditor proposes it on a reason, another of the same
organisation confirms it; until then the proposal is pending on the request."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access_requests.models import AccessRequest
from app.access_requests.schemas import AccessRequestExtension, RequestStatus
from app.access_requests.service import (
    DEADLINE_MONTHS,
    EXTENSION_MONTHS,
    TARGET,
    second_person,
)
from app.audit import service as audit
from app.auth.principal import Principal
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.problems import Conflict
from app.risk.scoring import add_months


def _extendable(request: AccessRequest) -> None:
    if request.extension_reason is not None:
        raise Conflict("The deadline was extended already; GDPR art. 12(3) allows it once.")
    if request.status == RequestStatus.REFUSED or request.first_exported_at is not None:
        raise Conflict("The request is answered already; there is no deadline to extend.")


async def propose_extension(
    session: AsyncSession,
    principal: Principal,
    request: AccessRequest,
    body: AccessRequestExtension,
    expected: int,
) -> AccessRequest:
    """Two more months, once, while the request is open (not refused, not exported):
    proposed here, in effect only once another auditor confirms it."""
    _extendable(request)
    if request.extension_proposed_reason is not None:
        raise Conflict("An extension is proposed already; another auditor confirms it.")
    check_version(expected, request.version)
    request.extension_proposed_reason = body.reason
    request.extension_proposed_by = principal.user_id
    request.extension_proposed_at = utcnow()
    await session.flush()
    audit.record(
        session,
        principal,
        "access_request.extension_proposed",
        TARGET,
        request.id,
        purpose=body.reason,
    )
    return request


async def confirm_extension(
    session: AsyncSession, principal: Principal, request: AccessRequest, expected: int
) -> AccessRequest:
    """The second auditor confirms the pending extension (four eyes)."""
    _extendable(request)
    if request.extension_proposed_reason is None:
        raise Conflict("No extension is proposed; propose one first.")
    second_person(
        principal,
        request,
        request.extension_proposed_by,
        "Four eyes: another person than the one who proposed the extension must confirm it.",
        "four eyes: proposer may not confirm",
    )
    check_version(expected, request.version)
    request.extension_reason = request.extension_proposed_reason
    request.extended_by = principal.user_id
    request.extension_proposed_reason = None
    request.extension_proposed_by = None
    request.extension_proposed_at = None
    request.due_on = add_months(request.received_on, DEADLINE_MONTHS + EXTENSION_MONTHS)
    await session.flush()
    audit.record(
        session,
        principal,
        "access_request.extended",
        TARGET,
        request.id,
        purpose=request.extension_reason,
    )
    return request

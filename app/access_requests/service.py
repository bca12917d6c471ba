"""Recording, deciding and listing access requests (GDPR art. 15).

The rules kept here:

- the deadline is one calendar month from receipt, extendable once by two
  more (GDPR art. 12(3)); a request is overdue while it is not refused, has
  not been exported, and its due date has passed;
- **four eyes**: the decision (approval or refusal) is made by another user
  than the one who recorded the request, and a decision is final;
- only an approved request is exported (app/access_requests/export.py);
- every step is audited by ids and codes, never content.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_requests.models import AccessRequest
from app.access_requests.schemas import (
    REFUSAL_REFERENCES,
    WITHHOLDING_REFERENCES,
    AccessRequestApproval,
    AccessRequestCreate,
    AccessRequestExtension,
    AccessRequestRead,
    AccessRequestRefusal,
    RequestStatus,
    legal_reference,
)
from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal, Role
from app.persons.models import Person
from app.platform.clock import clock
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.pagination import apply_keyset, page_of
from app.platform.problems import Conflict, DeniedAccess, Forbidden, NotFound, field_error
from app.risk.scoring import add_months
from app.worklist.registry import TaskRead

TARGET = "access_request"
#: The one /me/tasks kind this domain owns.
TO_DECIDE = "access_request.to_decide"
DEADLINE_MONTHS = 1
EXTENSION_MONTHS = 2


def is_overdue(request: AccessRequest, today: date) -> bool:
    return (
        request.status != RequestStatus.REFUSED
        and request.first_exported_at is None
        and request.due_on < today
    )


def to_read(request: AccessRequest) -> AccessRequestRead:
    reference = None
    if request.refusal_ground:
        reference = legal_reference(REFUSAL_REFERENCES, request.refusal_ground)
    elif request.withholding_ground:
        reference = legal_reference(WITHHOLDING_REFERENCES, request.withholding_ground)
    return AccessRequestRead.model_validate(
        {
            **{
                c: getattr(request, c)
                for c in AccessRequestRead.model_fields
                if c != "overdue" and c != "legal_reference"
            },
            "overdue": is_overdue(request, clock.today()),
            "legal_reference": reference,
        }
    )


async def record_request(
    session: AsyncSession, principal: Principal, body: AccessRequestCreate
) -> AccessRequest:
    if await session.get(Person, body.person_id) is None:
        raise field_error("person_id", "No such person.", "not_found")
    request = AccessRequest(
        id=uuid.uuid4(),
        person_id=body.person_id,
        requester_kind=body.requester_kind,
        identity_verification=body.identity_verification,
        received_on=body.received_on,
        due_on=add_months(body.received_on, DEADLINE_MONTHS),
        status=RequestStatus.RECORDED,
        recorded_by=principal.user_id,
        export_count=0,
    )
    session.add(request)
    await session.flush()
    audit.record(session, principal, "access_request.recorded", TARGET, request.id)
    return request


async def load_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, action: str
) -> AccessRequest:
    request = await session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(
            "No such access request.",
            denied=DeniedAccess(
                action=action,
                actor=principal,
                target_type=TARGET,
                target_id=str(request_id),
                reason="not found",
            ),
        )
    return request


async def read_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> AccessRequest:
    request = await load_request(session, principal, request_id, Action.ACCESS_REQUEST_READ)
    audit.record(session, principal, "access_request.read", TARGET, request.id)
    return request


def listing(status: RequestStatus | None, overdue: bool | None) -> Select[Any]:
    stmt = select(AccessRequest)
    if status is not None:
        stmt = stmt.where(AccessRequest.status == status)
    if overdue is not None:
        late = and_(
            AccessRequest.status != RequestStatus.REFUSED,
            AccessRequest.first_exported_at.is_(None),
            AccessRequest.due_on < clock.today(),
        )
        stmt = stmt.where(late if overdue else ~late)
    return stmt


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    status: RequestStatus | None,
    overdue: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[AccessRequest], str | None]:
    stmt = apply_keyset(
        listing(status, overdue), AccessRequest.created_at, AccessRequest.id, cursor, limit
    )
    rows = (await session.scalars(stmt)).all()
    audit.record(session, principal, "access_request.list", TARGET, None)
    return page_of(rows, limit, "created_at")


def _decidable(principal: Principal, request: AccessRequest, expected: int) -> None:
    """A decision is the second person's, made once, on the version they read."""
    if request.recorded_by == principal.user_id:
        raise Forbidden(
            "Four eyes: another person than the one who recorded the request must decide it.",
            denied=DeniedAccess(
                action=Action.ACCESS_REQUEST_DECIDE,
                actor=principal,
                target_type=TARGET,
                target_id=str(request.id),
                reason="four eyes: recorder may not decide",
            ),
        )
    if request.status != RequestStatus.RECORDED:
        raise Conflict(f"The request is {request.status} already; a decision is final.")
    check_version(expected, request.version)


async def approve(
    session: AsyncSession,
    principal: Principal,
    request: AccessRequest,
    body: AccessRequestApproval,
    expected: int,
) -> AccessRequest:
    _decidable(principal, request, expected)
    request.status = RequestStatus.APPROVED
    request.decided_by = principal.user_id
    request.decided_at = utcnow()
    request.withholding_ground = body.withhold_police_data
    await session.flush()
    audit.record(
        session,
        principal,
        "access_request.approved",
        TARGET,
        request.id,
        purpose=f"withheld police data: {body.withhold_police_data}"
        if body.withhold_police_data
        else None,
    )
    return request


async def refuse(
    session: AsyncSession,
    principal: Principal,
    request: AccessRequest,
    body: AccessRequestRefusal,
    expected: int,
) -> AccessRequest:
    _decidable(principal, request, expected)
    request.status = RequestStatus.REFUSED
    request.decided_by = principal.user_id
    request.decided_at = utcnow()
    request.refusal_ground = body.ground
    await session.flush()
    audit.record(
        session, principal, "access_request.refused", TARGET, request.id, purpose=body.ground
    )
    return request


async def extend(
    session: AsyncSession,
    principal: Principal,
    request: AccessRequest,
    body: AccessRequestExtension,
    expected: int,
) -> AccessRequest:
    """Two more months, once, while the request is open (not refused, not exported)."""
    if request.extension_reason is not None:
        raise Conflict("The deadline was extended already; GDPR art. 12(3) allows it once.")
    if request.status == RequestStatus.REFUSED or request.first_exported_at is not None:
        raise Conflict("The request is answered already; there is no deadline to extend.")
    check_version(expected, request.version)
    request.extension_reason = body.reason
    request.due_on = add_months(request.received_on, DEADLINE_MONTHS + EXTENSION_MONTHS)
    await session.flush()
    audit.record(
        session, principal, "access_request.extended", TARGET, request.id, purpose=body.reason
    )
    return request


def require_approved(principal: Principal, request: AccessRequest) -> None:
    if request.status == RequestStatus.REFUSED:
        raise Conflict("The request was refused; a refused request is never exported.")
    if request.status != RequestStatus.APPROVED:
        raise Conflict("The request is not approved yet; a second person must approve it.")


async def mark_exported(
    session: AsyncSession, principal: Principal, request: AccessRequest, fmt: str
) -> None:
    """Count the export; the person's data was read for it, so the person is the target."""
    if request.first_exported_at is None:
        request.first_exported_at = utcnow()
    request.export_count += 1
    await session.flush()
    audit.record(session, principal, f"access_request.exported.{fmt}", TARGET, request.id)
    audit.record(
        session,
        principal,
        "person.access_request.exported",
        "person",
        request.person_id,
        purpose=f"GDPR art. 15 access request {request.id}",
    )


async def requests_to_decide(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[TaskRead]:
    """/me/tasks: requests another auditor recorded, waiting for a second person."""
    if Role.AUDITOR not in principal.roles:
        return []
    rows = (
        await session.scalars(
            select(AccessRequest)
            .where(
                AccessRequest.status == RequestStatus.RECORDED,
                AccessRequest.recorded_by != principal.user_id,
            )
            .order_by(AccessRequest.due_on, AccessRequest.id)
            .limit(100)
        )
    ).all()
    today = clock.today()
    return [
        TaskRead(
            kind=TO_DECIDE,
            title="Access request awaiting a second person's decision",
            due_at=datetime.combine(r.due_on, time(), tzinfo=UTC),
            overdue=r.due_on < today,
            priority=1,
            target_type=TARGET,
            target_id=r.id,
        )
        for r in rows
    ]

"""Recording, deciding and listing access requests (GDPR art. 15).

The rules kept here:

- a request belongs to the controller organisation that handles it, the
  recording auditor's; only that organisation's auditors see and handle it
  (the loader in dependencies.py; the list below filters the same way);
- the deadline is one calendar month from receipt, extendable once by two
  more (GDPR art. 12(3)); a request is overdue while it is not refused, has
  not been exported, and its due date has passed;
- **four eyes**: the decision (approval or refusal) is made by another user
  than the one who recorded the request, and a decision is final; an
  extension is proposed by one auditor and confirmed by another;
- only an approved request is exported (app/access_requests/export.py), and
  each delivery's SHA-256 is recorded (never the bytes);
- every step is audited by ids and codes, never content.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_requests.models import AccessRequest, AccessRequestDelivery
from app.access_requests.schemas import (
    REFUSAL_REFERENCES,
    WITHHOLDING_REFERENCES,
    AccessRequestApproval,
    AccessRequestCreate,
    AccessRequestRead,
    AccessRequestRefusal,
    ExportDeliveryRead,
    ExtensionProposal,
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
from app.platform.problems import Conflict, Forbidden, denial, field_error
from app.risk.scoring import add_months
from app.worklist.registry import TaskRead

TARGET = "access_request"
#: The /me/tasks kinds this domain owns: a request, or a proposed deadline
#: extension, waiting for a second auditor of the organisation (four eyes).
TO_DECIDE = "access_request.to_decide"
EXTENSION_TO_CONFIRM = "access_request.extension_to_confirm"
DEADLINE_MONTHS = 1
EXTENSION_MONTHS = 2


def is_overdue(request: AccessRequest, today: date) -> bool:
    return (
        request.status != RequestStatus.REFUSED
        and request.first_exported_at is None
        and request.due_on < today
    )


async def deliveries_of(
    session: AsyncSession, request_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ExportDeliveryRead]]:
    found: dict[uuid.UUID, list[ExportDeliveryRead]] = {i: [] for i in request_ids}
    if request_ids:
        rows = await session.scalars(
            select(AccessRequestDelivery)
            .where(AccessRequestDelivery.request_id.in_(request_ids))
            .order_by(AccessRequestDelivery.delivered_at, AccessRequestDelivery.id)
        )
        for d in rows:
            found[d.request_id].append(ExportDeliveryRead.model_validate(d, from_attributes=True))
    return found


async def to_read(session: AsyncSession, request: AccessRequest) -> AccessRequestRead:
    return (await to_reads(session, [request]))[0]


async def to_reads(
    session: AsyncSession, requests: Sequence[AccessRequest]
) -> list[AccessRequestRead]:
    deliveries = await deliveries_of(session, [r.id for r in requests])
    return [_read(r, deliveries[r.id]) for r in requests]


def _proposal(request: AccessRequest) -> ExtensionProposal | None:
    if request.extension_proposed_reason is None:
        return None
    assert request.extension_proposed_by and request.extension_proposed_at
    return ExtensionProposal(
        reason=request.extension_proposed_reason,
        proposed_by=request.extension_proposed_by,
        proposed_at=request.extension_proposed_at,
    )


def _read(request: AccessRequest, deliveries: list[ExportDeliveryRead]) -> AccessRequestRead:
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
                if c not in ("overdue", "legal_reference", "deliveries", "extension_proposal")
            },
            "overdue": is_overdue(request, clock.today()),
            "legal_reference": reference,
            "deliveries": deliveries,
            "extension_proposal": _proposal(request),
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
        organisation_id=principal.organisation_id,
        export_count=0,
    )
    session.add(request)
    await session.flush()
    audit.record(session, principal, "access_request.recorded", TARGET, request.id)
    return request


def read_request(session: AsyncSession, principal: Principal, request: AccessRequest) -> None:
    """The request was loaded through the caller's organisation (dependencies.py)."""
    audit.record(session, principal, "access_request.read", TARGET, request.id)


def listing(
    organisation_id: uuid.UUID, status: RequestStatus | None, overdue: bool | None
) -> Select[Any]:
    """The controller organisation's requests only."""
    stmt = select(AccessRequest).where(AccessRequest.organisation_id == organisation_id)
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
        listing(principal.organisation_id, status, overdue),
        AccessRequest.created_at,
        AccessRequest.id,
        cursor,
        limit,
    )
    rows = (await session.scalars(stmt)).all()
    audit.record(session, principal, "access_request.list", TARGET, None)
    return page_of(rows, limit, "created_at")


def second_person(
    principal: Principal, request: AccessRequest, first: uuid.UUID | None, detail: str, reason: str
) -> None:
    """Four eyes: the caller must not be ``first``, who took the step before."""
    if first == principal.user_id:
        raise Forbidden(
            detail,
            denied=denial(Action.ACCESS_REQUEST_DECIDE, principal, TARGET, request.id, reason),
        )


def _decide(
    principal: Principal, request: AccessRequest, expected: int, status: RequestStatus
) -> None:
    """Record the decision: the second person's, made once, on the version they read."""
    second_person(
        principal,
        request,
        request.recorded_by,
        "Four eyes: another person than the one who recorded the request must decide it.",
        "four eyes: recorder may not decide",
    )
    if request.status != RequestStatus.RECORDED:
        raise Conflict(f"The request is {request.status} already; a decision is final.")
    check_version(expected, request.version)
    request.status = status
    request.decided_by = principal.user_id
    request.decided_at = utcnow()


async def approve(
    session: AsyncSession,
    principal: Principal,
    request: AccessRequest,
    body: AccessRequestApproval,
    expected: int,
) -> AccessRequest:
    _decide(principal, request, expected, RequestStatus.APPROVED)
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
    _decide(principal, request, expected, RequestStatus.REFUSED)
    request.refusal_ground = body.ground
    await session.flush()
    audit.record(
        session, principal, "access_request.refused", TARGET, request.id, purpose=body.ground
    )
    return request


def require_approved(principal: Principal, request: AccessRequest) -> None:
    if request.status == RequestStatus.REFUSED:
        raise Conflict("The request was refused; a refused request is never exported.")
    if request.status != RequestStatus.APPROVED:
        raise Conflict("The request is not approved yet; a second person must approve it.")


async def mark_exported(
    session: AsyncSession,
    principal: Principal,
    request: AccessRequest,
    fmt: str,
    body: bytes,
    withheld_police_entries: int = 0,
) -> None:
    """Count the export and record the SHA-256 of the exact bytes delivered; the
    person's data was read for it, so the person is the target too."""
    now = utcnow()
    if request.first_exported_at is None:
        request.first_exported_at = now
    request.export_count += 1
    delivery = AccessRequestDelivery(
        id=uuid.uuid4(),
        request_id=request.id,
        kind=fmt,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        delivered_at=now,
        delivered_by=principal.user_id,
    )
    session.add(delivery)
    await session.flush()
    withheld = f"; police entries withheld: {withheld_police_entries}"
    audit.record(
        session,
        principal,
        f"access_request.exported.{fmt}",
        TARGET,
        request.id,
        purpose=f"delivery {delivery.id}{withheld if withheld_police_entries else ''}",
    )
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
    """/me/tasks: requests, and proposed deadline extensions, that another auditor
    of the organisation recorded and that wait for a second person."""
    if Role.AUDITOR not in principal.roles:
        return []
    mine = AccessRequest.organisation_id == principal.organisation_id
    to_decide = select(AccessRequest).where(
        mine,
        AccessRequest.status == RequestStatus.RECORDED,
        AccessRequest.recorded_by != principal.user_id,
    )
    to_confirm = select(AccessRequest).where(
        mine,
        AccessRequest.extension_proposed_reason.is_not(None),
        AccessRequest.extension_proposed_by != principal.user_id,
        AccessRequest.status != RequestStatus.REFUSED,
        AccessRequest.first_exported_at.is_(None),
    )
    today = clock.today()
    tasks: list[TaskRead] = []
    for kind, title, query in (
        (TO_DECIDE, "Access request awaiting a second person's decision", to_decide),
        (EXTENSION_TO_CONFIRM, "Access request deadline extension to confirm", to_confirm),
    ):
        rows = await session.scalars(
            query.order_by(AccessRequest.due_on, AccessRequest.id).limit(100)
        )
        tasks.extend(
            TaskRead(
                kind=kind,
                title=title,
                due_at=datetime.combine(r.due_on, time(), tzinfo=UTC),
                overdue=r.due_on < today,
                priority=1,
                target_type=TARGET,
                target_id=r.id,
            )
            for r in rows.all()
        )
    return tasks

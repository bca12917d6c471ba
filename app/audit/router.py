from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.audit import service
from app.audit.dependencies import AuditReader, AuditVerifier
from app.audit.schemas import AuditEventRead, BrokenRow, VerifyRequest, VerifyResult
from app.audit.verify import verify
from app.platform.db import SessionDep
from app.platform.inputs import UtcDatetime
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, rendered
from app.platform.routing import api_router

router = api_router(prefix="/api/v1/audit", tags=["audit"])


@router.get("/events", response_model=Page[AuditEventRead])
async def list_audit_events(
    session: SessionDep,
    principal: AuditReader,
    actor_id: uuid.UUID | None = None,
    target_type: Annotated[str | None, Query(max_length=50)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AuditEventRead]:
    """Read the access log (auditor only), newest first, with keyset paging."""
    found = await service.list_events(
        session,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        action=action,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    service.record(session, principal, "audit.events.read", "audit_log", None)
    return rendered(found, AuditEventRead.model_validate)


@router.post("/verify", response_model=VerifyResult)
async def verify_audit_chain(
    session: SessionDep, principal: AuditVerifier, body: VerifyRequest | None = None
) -> VerifyResult:
    """Verify the access log's hash chain (auditor only), for one period or all of it.

    Names the first row that breaks the chain (edited, deleted, inserted or
    moved). Rows committed in the last seconds and not yet sealed are counted
    in ``unsealed``, not verified. Signed checkpoints are checked by
    ``casecoord audit verify --checkpoints``, where the verifier key lives.
    """
    period = body.period if body else None
    result = await verify(session, period=period)
    broken = result.first_broken
    service.record(
        session,
        principal,
        "audit.chain.verified",
        "audit_log",
        None,
        purpose=f"{period or 'all'}: {'ok' if broken is None else 'broken'}, {result.rows} rows",
    )
    return VerifyResult(
        ok=result.ok,
        period=period,
        rows=result.rows,
        unsealed=result.unsealed,
        first_broken=None
        if broken is None
        else BrokenRow(
            id=uuid.UUID(broken.id) if broken.id else None, seq=broken.seq, reason=broken.reason
        ),
        head_seq=result.head.seq,
        head_hash=result.head.hash,
    )

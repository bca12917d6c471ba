from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.dependencies import AuditReader
from app.audit.schemas import AuditEventRead
from app.platform.db import SessionDep
from app.platform.inputs import UtcDatetime
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


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
    items, next_cursor = await service.list_events(
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
    return Page[AuditEventRead](
        items=[AuditEventRead.model_validate(e) for e in items], next_cursor=next_cursor
    )

"""Marak meeting routes: ``/api/v1/meetings`` with its agenda, attendance and minutes."""

from __future__ import annotations

import uuid

from fastapi import Query, Response

from app.audit import service as audit
from app.auth.policy import Action
from app.cases.access import not_found
from app.cases.lifecycle import GatesDep
from app.directory.dependencies import MeetingTeam
from app.plans import meetings as service
from app.plans.dependencies import (
    AgendaCase,
    MeetingLister,
    MeetingManager,
    MeetingReader,
    MeetingToManage,
    MeetingToRead,
    MinutesCase,
    MinutesReader,
    MinutesToRead,
    MinutesToWrite,
    MinutesWriter,
)
from app.plans.schemas import (
    AgendaAdd,
    AttendanceSet,
    MeetingCreate,
    MeetingRead,
    MinutesCreate,
    MinutesRead,
)
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["meetings"])
ONE = "/meetings/{meeting_id}"


async def _out(
    session: SessionDep, principal: MeetingReader, meeting_id: uuid.UUID, response: Response
) -> MeetingRead:
    meeting = await service.get_meeting(session, principal, meeting_id, Action.MEETING_READ)
    await session.refresh(meeting)
    return tagged(
        response, meeting.version, await service.meeting_read(session, principal, meeting)
    )


@router.post("/meetings", response_model=MeetingRead, status_code=201)
async def create_meeting(
    body: MeetingCreate,
    session: SessionDep,
    principal: MeetingManager,
    teams: MeetingTeam,
    idempotency: Idempotency,
    response: Response,
) -> MeetingRead:
    """Arrange a monthly meeting, or an emergency meeting between monthly ones."""

    async def create() -> tuple[MeetingRead, uuid.UUID]:
        team = await teams(body.team_id)
        meeting = await service.create_meeting(session, principal, team, body)
        set_created(response, meeting.version, f"/api/v1/meetings/{meeting.id}")
        return await service.meeting_read(session, principal, meeting), meeting.id

    async def reread(target_id: str) -> MeetingRead:
        out = await _out(session, principal, uuid.UUID(target_id), response)
        audit.record(session, principal, Action.MEETING_READ, "meeting", target_id)
        return out

    return await create_once(
        idempotency, session, principal, body, response, "meeting", create, reread
    )


@router.get("/meetings", response_model=Page[MeetingRead])
async def list_meetings(
    session: SessionDep,
    principal: MeetingLister,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[MeetingRead]:
    """Meetings of my teams, newest first."""
    items, nxt = await service.list_meetings(session, principal, cursor, limit)
    return Page[MeetingRead](
        items=[await service.meeting_read(session, principal, m) for m in items], next_cursor=nxt
    )


@router.get(ONE, response_model=MeetingRead)
async def get_meeting(
    meeting_id: uuid.UUID,
    session: SessionDep,
    principal: MeetingReader,
    response: Response,
    meeting_of: MeetingToRead,
) -> MeetingRead:
    """The meeting; its agenda lists only the cases you may read."""
    out = await _out(session, principal, (await meeting_of(meeting_id)).id, response)
    audit.record(session, principal, Action.MEETING_READ, "meeting", meeting_id)
    return out


@router.post(ONE + "/agenda", response_model=MeetingRead, status_code=201)
async def add_to_agenda(
    meeting_id: uuid.UUID,
    body: AgendaAdd,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: MeetingManager,
    response: Response,
    gates: GatesDep,
    meeting_of: MeetingToManage,
    case_of: AgendaCase,
) -> MeetingRead:
    """Add a referred case (or a repeat); the case moves to ``on_agenda``."""
    meeting = await meeting_of(meeting_id)
    await service.add_to_agenda(session, keyring, gates, case_of, meeting, body)
    return await _out(session, principal, meeting_id, response)


@router.post(ONE + "/attendance", response_model=MeetingRead)
async def set_attendance(
    meeting_id: uuid.UUID,
    body: AttendanceSet,
    session: SessionDep,
    principal: MeetingManager,
    response: Response,
    meeting_of: MeetingToManage,
) -> MeetingRead:
    """Record whether an organisation attended."""
    meeting = await meeting_of(meeting_id)
    await service.set_attendance(session, principal, meeting, body)
    return await _out(session, principal, meeting_id, response)


@router.post(ONE + "/close", response_model=MeetingRead)
async def close_meeting(
    meeting_id: uuid.UUID,
    session: SessionDep,
    principal: MeetingManager,
    expected: IfMatch,
    response: Response,
    meeting_of: MeetingToManage,
) -> MeetingRead:
    """Close the meeting: its agenda and minutes are frozen from now on."""
    meeting = await meeting_of(meeting_id)
    await service.close_meeting(session, principal, meeting, expected)
    return await _out(session, principal, meeting_id, response)


@router.get(ONE + "/minutes", response_model=list[MinutesRead])
async def list_minutes(
    meeting_id: uuid.UUID,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: MinutesReader,
    meeting_of: MinutesToRead,
    case_id: uuid.UUID | None = Query(default=None),
) -> list[MinutesRead]:
    """Minutes of the cases you are a member of; other cases' minutes do not exist for you."""
    meeting = await meeting_of(meeting_id)
    rows = await service.list_minutes(session, principal, meeting, case_id)
    return await service.minutes_reads(session, keyring, rows)


@router.post(ONE + "/minutes", response_model=MinutesRead, status_code=201)
async def add_minutes(
    meeting_id: uuid.UUID,
    body: MinutesCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    principal: MinutesWriter,
    idempotency: Idempotency,
    response: Response,
    meeting_of: MinutesToWrite,
    case_of: MinutesCase,
) -> MinutesRead:
    """Shared information (fact or opinion), what was deliberately not shared and
    why, decisions, and actions (each becomes a measure of the case's plan)."""

    async def create() -> tuple[MinutesRead, uuid.UUID]:
        meeting = await meeting_of(meeting_id)
        entry = await service.add_minutes(session, keyring, case_of, meeting, body)
        return (await service.minutes_reads(session, keyring, [entry]))[0], entry.id

    async def reread(target_id: str) -> MinutesRead:
        action = Action.MINUTES_READ
        meeting = await service.get_meeting(session, principal, meeting_id, action)
        rows = await service.list_minutes(session, principal, meeting, body.case_id)
        entry = next((r for r in rows if str(r.id) == target_id), None)
        if entry is None:
            raise not_found(action, principal, "minutes", target_id)
        return (await service.minutes_reads(session, keyring, [entry]))[0]

    return await create_once(
        idempotency, session, principal, body, response, "minutes", create, reread
    )

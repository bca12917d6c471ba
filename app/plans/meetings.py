"""Marak meetings: agenda, attendance by organisation and per-case minutes.

A meeting belongs to a Marak team and is seen by that team's members. Its
minutes, though, are rows of *cases*: each entry is listed only to members of
the case it concerns, so two agencies at the same table never read each
other's cases through the minutes. Closing the meeting freezes its minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.auth.principal import Principal
from app.casekeys.freetext import SHREDDED_TEXT, open_text, seal_text
from app.casekeys.service import case_cipher, case_ciphers
from app.cases.access import member_case_ids
from app.cases.dependencies import CaseLoader
from app.cases.lifecycle import CaseStatus, Gates, Scheme
from app.cases.schemas import CaseTransitionCreate
from app.cases.service import transition
from app.directory.models import Organisation, Team, TeamMembership
from app.events.outbox import EventType, emit
from app.plans import measures as measure_service
from app.plans import service as plan_service
from app.plans.models import AgendaItem, Attendance, Meeting, MinutesEntry
from app.plans.schemas import (
    AgendaAdd,
    AgendaItemRead,
    AttendanceRead,
    AttendanceSet,
    MeetingCreate,
    MeetingKind,
    MeetingRead,
    MinutesCreate,
    MinutesKind,
    MinutesRead,
    PlanCreate,
)
from app.platform.crypto import KeyRing
from app.platform.db import utcnow
from app.platform.etag import check_version
from app.platform.pagination import apply_keyset, page_of
from app.platform.problems import Conflict, NotFound, Unprocessable, denial

if TYPE_CHECKING:
    from app.cases.dependencies import CaseLoader


class MinutesFrozen(Conflict):
    type = "minutes-frozen"
    title = "The meeting is closed"


#: A case goes on the agenda from these states: a new referral, or a repeat.
AGENDA_FROM = {
    CaseStatus.REFERRED: "referral",
    CaseStatus.MONITORING: "repeat",
    CaseStatus.PLAN_ACTIVE: "repeat",
    CaseStatus.ON_AGENDA: "carried_over",
}


def my_team_ids(principal: Principal):  # type: ignore[no-untyped-def]
    return select(TeamMembership.team_id).where(TeamMembership.user_id == principal.user_id)


async def create_meeting(
    session: AsyncSession, principal: Principal, team: Team, data: MeetingCreate
) -> Meeting:
    """Arrange a meeting of ``team`` (loaded by the route's TeamLoader: the caller's)."""
    if team.kind != Scheme.MARAK:
        raise Unprocessable("Meetings are held by Marak teams.")
    chair = data.chair_id or principal.user_id
    if chair != principal.user_id and not await session.scalar(
        select(TeamMembership.id).where(
            TeamMembership.team_id == team.id, TeamMembership.user_id == chair
        )
    ):
        raise Unprocessable("The chair must be a member of the team.")
    meeting = Meeting(
        team_id=team.id,
        scheduled_at=data.scheduled_at,
        kind=data.kind.value,
        chair_id=chair,
        created_by=principal.user_id,
    )
    session.add(meeting)
    await session.flush()
    audit.record(session, principal, "meeting.created", "meeting", meeting.id)
    emit(session, EventType.MEETING_SCHEDULED, principal, "meeting", meeting.id)
    return meeting


async def get_meeting(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, action: str
) -> Meeting:
    meeting = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id, Meeting.team_id.in_(my_team_ids(principal)))
    )
    if meeting is None:
        raise NotFound(
            "No such meeting.",
            denied=denial(action, principal, "meeting", meeting_id, "not visible"),
        )
    return meeting


async def list_meetings(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[Meeting], str | None]:
    stmt = select(Meeting).where(Meeting.team_id.in_(my_team_ids(principal)))
    rows = (
        await session.scalars(apply_keyset(stmt, Meeting.scheduled_at, Meeting.id, cursor, limit))
    ).all()
    audit.record(session, principal, "meeting.listed", "meeting", None)
    return page_of(rows, limit, "scheduled_at")


async def meeting_read(
    session: AsyncSession, principal: Principal, meeting: Meeting
) -> MeetingRead:
    agenda = (
        await session.scalars(
            select(AgendaItem)
            .where(
                AgendaItem.meeting_id == meeting.id,
                AgendaItem.case_id.in_(member_case_ids(principal)),
            )
            .order_by(AgendaItem.position)
        )
    ).all()
    attendance = (
        await session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id))
    ).all()
    return MeetingRead(
        id=meeting.id,
        team_id=meeting.team_id,
        scheduled_at=meeting.scheduled_at,
        kind=MeetingKind(meeting.kind),
        chair_id=meeting.chair_id,
        closed_at=meeting.closed_at,
        version=meeting.version,
        agenda=[AgendaItemRead.model_validate(a) for a in agenda],
        attendance=[AttendanceRead.model_validate(a) for a in attendance],
    )


def _open(meeting: Meeting) -> None:
    if meeting.closed_at is not None:
        raise MinutesFrozen("The meeting is closed; its agenda and minutes are frozen.")


async def add_to_agenda(
    session: AsyncSession,
    keyring: KeyRing,
    gates: Gates,
    case_of: CaseLoader,
    meeting: Meeting,
    data: AgendaAdd,
) -> AgendaItem:
    """Put a referred case (or a repeat) on the agenda; the case moves to ``on_agenda``,
    through the lifecycle and its gates (the victim's consent is checked again)."""
    _open(meeting)
    access = await case_of(data.case_id)
    principal = access.principal
    case = access.case
    if case.team_id != meeting.team_id:
        raise Unprocessable("The case belongs to another team.")
    status = CaseStatus(case.status)
    if status not in AGENDA_FROM:
        raise Conflict(
            f"A case in '{status}' cannot go on the agenda (referred cases and repeats can)."
        )
    if await session.scalar(
        select(AgendaItem.id).where(
            AgendaItem.meeting_id == meeting.id, AgendaItem.case_id == case.id
        )
    ):
        raise Conflict("The case is already on this meeting's agenda.")
    if status != CaseStatus.ON_AGENDA:
        await transition(
            session,
            keyring,
            gates,
            access,
            CaseTransitionCreate(to=CaseStatus.ON_AGENDA, reason=f"Agenda of meeting {meeting.id}"),
            case.version,
        )
    position = (
        await session.scalar(
            select(func.coalesce(func.max(AgendaItem.position), 0)).where(
                AgendaItem.meeting_id == meeting.id
            )
        )
        or 0
    ) + 1
    item = AgendaItem(
        meeting_id=meeting.id,
        case_id=case.id,
        position=position,
        reason=AGENDA_FROM[status],
        added_by=principal.user_id,
    )
    session.add(item)
    meeting.updated_at = utcnow()
    await session.flush()
    audit.record(session, principal, "meeting.agenda.added", "case", case.id, purpose="marak")
    return item


async def set_attendance(
    session: AsyncSession, principal: Principal, meeting: Meeting, data: AttendanceSet
) -> None:
    _open(meeting)
    if await session.get(Organisation, data.organisation_id) is None:
        raise Unprocessable("No such organisation.")
    row = await session.scalar(
        select(Attendance).where(
            Attendance.meeting_id == meeting.id,
            Attendance.organisation_id == data.organisation_id,
        )
    )
    if row is None:
        row = Attendance(
            meeting_id=meeting.id,
            organisation_id=data.organisation_id,
            recorded_by=principal.user_id,
        )
        session.add(row)
    row.present = data.present
    meeting.updated_at = utcnow()
    await session.flush()
    audit.record(session, principal, "meeting.attendance.recorded", "meeting", meeting.id)


async def close_meeting(
    session: AsyncSession, principal: Principal, meeting: Meeting, expected: int
) -> None:
    check_version(expected, meeting.version)
    _open(meeting)
    meeting.closed_at = utcnow()
    meeting.closed_by = principal.user_id
    await session.flush()
    audit.record(session, principal, "meeting.closed", "meeting", meeting.id)


async def add_minutes(
    session: AsyncSession,
    keyring: KeyRing,
    case_of: CaseLoader,
    meeting: Meeting,
    data: MinutesCreate,
) -> MinutesEntry:
    """One line of a case's minutes, by a member of that case. An action becomes a
    measure in the case's draft plan (the plan is started if there is none)."""
    access = await case_of(data.case_id)
    principal = access.principal
    on_agenda = await session.scalar(
        select(AgendaItem.id).where(
            AgendaItem.meeting_id == meeting.id, AgendaItem.case_id == data.case_id
        )
    )
    if on_agenda is None:
        raise Unprocessable("The case is not on this meeting's agenda.")
    _open(meeting)
    measure_id = None
    if data.kind == MinutesKind.ACTION and data.measure is not None:
        try:
            plan = await plan_service.get_plan(session, access, access.action)
        except NotFound:
            plan = await plan_service.create_plan(session, keyring, access, PlanCreate())
        measure = await measure_service.add_measure(session, keyring, access, plan, data.measure)
        measure_id = measure.id
    entry = MinutesEntry(
        id=uuid.uuid4(),
        meeting_id=meeting.id,
        case_id=data.case_id,
        kind=data.kind.value,
        organisation_id=principal.organisation_id,
        information_kind=data.information_kind.value if data.information_kind else None,
        measure_id=measure_id,
        author_id=principal.user_id,
    )
    cipher = await case_cipher(session, keyring, data.case_id, create=True)
    seal_text(cipher, entry, "text", data.text)
    seal_text(cipher, entry, "reason", data.reason)
    session.add(entry)
    await session.flush()
    audit.record(session, principal, "meeting.minutes.added", "case", data.case_id, purpose="marak")
    return entry


async def list_minutes(
    session: AsyncSession, principal: Principal, meeting: Meeting, case_id: uuid.UUID | None
) -> Sequence[MinutesEntry]:
    """Only entries of cases the caller is a member of (emergency grants do not count)."""
    stmt = select(MinutesEntry).where(
        MinutesEntry.meeting_id == meeting.id,
        MinutesEntry.case_id.in_(member_case_ids(principal)),
    )
    if case_id is not None:
        stmt = stmt.where(MinutesEntry.case_id == case_id)
    rows = (await session.scalars(stmt.order_by(MinutesEntry.created_at, MinutesEntry.id))).all()
    for seen in sorted({r.case_id for r in rows}):
        audit.record(session, principal, Action.MINUTES_READ, "case", seen, purpose="marak")
    return rows


async def minutes_reads(
    session: AsyncSession, keyring: KeyRing, rows: Sequence[MinutesEntry]
) -> list[MinutesRead]:
    """Entries as the API shows them, their text opened under each case's key
    (a meeting spans cases: a shredded case's lines read SHREDDED_TEXT)."""
    ciphers = await case_ciphers(session, keyring, {r.case_id for r in rows})
    out = []
    for row in rows:
        cipher = ciphers[row.case_id]
        out.append(
            MinutesRead(
                id=row.id,
                meeting_id=row.meeting_id,
                case_id=row.case_id,
                kind=MinutesKind(row.kind),
                organisation_id=row.organisation_id,
                information_kind=row.information_kind,
                text=open_text(cipher, row, "text", shredded_as=SHREDDED_TEXT) or "",
                reason=open_text(cipher, row, "reason", shredded_as=SHREDDED_TEXT),
                measure_id=row.measure_id,
                author_id=row.author_id,
                created_at=row.created_at,
            )
        )
    return out

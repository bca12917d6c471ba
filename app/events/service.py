"""The event feed: each caller reads only the events on objects they may see now.

No visibility rule is written here. Each family of events is filtered by the rule
that already decides who sees its object, evaluated at read time:

- case events: the readable-cases rule (app/cases/access.py: membership or an
  active emergency grant, never for an organisation the case excludes);
- referral events: the referring side (``referred_from``) or, once sent, the
  receiving organisation (``received_by``), as app/referrals/service.py decides;
- concern events: the members of the receiving team (their inbox). The submitter
  follows a concern's status on the concern itself and is not sent its events;
- meeting events: the members of the meeting's team.

A caller who loses access (removed, excluded, a grant expired) stops seeing the
events of that object, the old ones included. A case is named in an event only
to those who may read it: a provider sees its referral's events with ``case_id``
null, as its referral view has no case.

Webhooks push to an *organisation*, so they follow the same families at the
organisation's level (:func:`visible_to_organisation`), built from the same
predicates: case events to an organisation with an active member on the case
that the case does not exclude (never through a person's emergency grant);
referral events to the referring side (such a member of the referral's case) and
the receiving organisation (``received_by``); concern and meeting events to the
organisation of the team. The fan-out applies it when it creates a delivery and
the sender again just before each attempt (app/webhooks/delivery.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action, is_allowed
from app.auth.principal import Principal
from app.cases.access import organisation_case_ids, readable_case_ids, readable_cases
from app.cases.models import Case
from app.concerns.models import Concern
from app.directory.models import Team
from app.events.models import OutboxEvent
from app.events.outbox import EventType as E
from app.events.schemas import EventPage, EventRead
from app.plans.meetings import my_team_ids
from app.plans.models import Meeting
from app.platform.pagination import apply_keyset, encode_cursor
from app.referrals.models import Referral
from app.referrals.service import received_by, received_by_organisation, referred_from

CASE_EVENTS = frozenset(
    {
        E.CASE_CREATED,
        E.CASE_TRANSITIONED,
        E.CASE_MEMBER_ADDED,
        E.CASE_MEMBER_REMOVED,
        E.PLAN_AGREED,
        E.MEASURE_STATUS_CHANGED,
        E.EMERGENCY_ACCESS_GRANTED,
    }
)
REFERRAL_EVENTS = frozenset({E.REFERRAL_REQUESTED, E.REFERRAL_TRANSITIONED})
CONCERN_EVENTS = frozenset({E.CONCERN_RECEIVED, E.CONCERN_SCREENED})
MEETING_EVENTS = frozenset({E.MEETING_SCHEDULED})
#: The cursor before the first event (sequences start at 1).
START = encode_cursor(0, uuid.UUID(int=0))


def _of(types: frozenset[E]) -> ColumnElement[bool]:
    return OutboxEvent.type.in_(sorted(t.value for t in types))


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The events on objects the caller may see now, each family by its own rule."""
    rules: list[ColumnElement[bool]] = []
    if is_allowed(principal, Action.CASE_READ):
        readable = readable_cases(principal).with_only_columns(Case.id)
        rules.append(_of(CASE_EVENTS) & OutboxEvent.case_id.in_(readable.scalar_subquery()))
    if is_allowed(principal, Action.REFERRAL_READ):
        referrals = select(Referral.id).where(or_(referred_from(principal), received_by(principal)))
        rules.append(_of(REFERRAL_EVENTS) & OutboxEvent.target_id.in_(referrals.scalar_subquery()))
    if is_allowed(principal, Action.CONCERN_READ) and principal.team_ids:
        inbox = select(Concern.id).where(Concern.team_id.in_(principal.team_ids))
        rules.append(_of(CONCERN_EVENTS) & OutboxEvent.target_id.in_(inbox.scalar_subquery()))
    if is_allowed(principal, Action.MEETING_READ):
        meetings = select(Meeting.id).where(Meeting.team_id.in_(my_team_ids(principal)))
        rules.append(_of(MEETING_EVENTS) & OutboxEvent.target_id.in_(meetings.scalar_subquery()))
    return or_(*rules) if rules else false()


def visible_to_organisation(organisation_id: uuid.UUID) -> ColumnElement[bool]:
    """The events on objects an organisation may see now (its webhooks), each family
    by the organisation-level form of the feed's rule above."""
    cases = organisation_case_ids(organisation_id)
    referrals = select(Referral.id).where(
        or_(Referral.case_id.in_(cases), received_by_organisation(organisation_id))
    )
    teams = select(Team.id).where(Team.organisation_id == organisation_id)
    concerns = select(Concern.id).where(Concern.team_id.in_(teams))
    meetings = select(Meeting.id).where(Meeting.team_id.in_(teams))
    return or_(
        _of(CASE_EVENTS) & OutboxEvent.case_id.in_(cases),
        _of(REFERRAL_EVENTS) & OutboxEvent.target_id.in_(referrals),
        _of(CONCERN_EVENTS) & OutboxEvent.target_id.in_(concerns),
        _of(MEETING_EVENTS) & OutboxEvent.target_id.in_(meetings),
    )


def names_case_to_organisation(organisation_id: uuid.UUID) -> ColumnElement[bool]:
    """Whether an event's case may be named to the organisation (it takes part in it)."""
    return OutboxEvent.case_id.in_(organisation_case_ids(organisation_id))


async def feed(
    session: AsyncSession, principal: Principal, after: str | None, limit: int
) -> EventPage:
    """The caller's events after the cursor, oldest first; one audit row per read."""
    stmt = select(OutboxEvent).where(visible_to(principal))
    stmt = apply_keyset(stmt, OutboxEvent.sequence, OutboxEvent.id, after, limit, descending=False)
    rows = (await session.scalars(stmt)).all()
    page = list(rows[:limit])
    if page:
        cursor = encode_cursor(page[-1].sequence, page[-1].id)
    else:
        cursor = after or START
    case_ids = {e.case_id for e in page if e.case_id is not None}
    readable = await readable_case_ids(session, principal, case_ids)
    items = []
    for event in page:
        item = EventRead.model_validate(event)
        if event.case_id not in readable:
            item.case_id = None
        items.append(item)
    audit.record(session, principal, "event.listed", "event", None)
    return EventPage(items=items, next_cursor=cursor, has_more=len(rows) > limit)

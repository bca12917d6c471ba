"""Permission-carrying dependencies for the person routes (router layer).

A person is visible only through a case the caller can read: the person
must be an active participant of a case in the cases domain's readable
query. This module is the router side of the house, so it may ask the cases
domain; the persons services below it receive the answer as a
:class:`~app.persons.protected.Reach` or a ``Select`` of person ids.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.markers import declare_relation, mark_loader
from app.auth.policy import BODY_CASE, POLICY, Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import member_case_ids, not_found, readable_cases
from app.cases.dependencies import CaseLoader, body_case
from app.cases.models import Case, CaseParticipant, EmergencyGrant
from app.persons.models import Person
from app.persons.protected import Reach
from app.persons.service import PersonAccess
from app.platform import context as requestctx
from app.platform.db import SessionDep, utcnow
from app.platform.problems import Forbidden, denial

PersonId = Annotated[uuid.UUID, Path(description="The person id.")]
CaseId = Annotated[uuid.UUID, Path(description="The case id.")]


def visible_person_ids(principal: Principal) -> Select[uuid.UUID]:
    """People in a case the caller can read (membership or an active emergency grant)."""
    readable_ids = readable_cases(principal).with_only_columns(Case.id)
    return select(CaseParticipant.person_id).where(
        CaseParticipant.removed_at.is_(None), CaseParticipant.case_id.in_(readable_ids)
    )


async def person_reach(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> Reach | None:
    """Through which readable cases the caller reaches the person; None if none."""
    now = utcnow()
    readable = readable_cases(principal, now).subquery()
    is_member = readable.c.id.in_(member_case_ids(principal))
    rows = (
        await session.execute(
            select(readable.c.id, readable.c.owner_organisation_id, is_member)
            .join(CaseParticipant, CaseParticipant.case_id == readable.c.id)
            .where(CaseParticipant.person_id == person_id, CaseParticipant.removed_at.is_(None))
        )
    ).all()
    if not rows:
        return None
    member_cases = frozenset((case_id, owner) for case_id, owner, member in rows if member)
    owners = frozenset(owner for _case, owner in member_cases)
    case_ids = frozenset(case_id for case_id, _owner, _member in rows)
    if not owners:
        grant = await session.scalar(
            select(EmergencyGrant.id)
            .where(
                EmergencyGrant.user_id == principal.user_id,
                EmergencyGrant.case_id.in_(case_ids),
                EmergencyGrant.expires_at > now,
            )
            .limit(1)
        )
        requestctx.emergency_grant_id.set(grant)  # tags every audit row of the request
    return Reach(
        member_case_owners=owners,
        emergency_only=not owners,
        case_ids=case_ids,
        member_cases=member_cases,
    )


def person_access(
    action: Action, relation_checked: bool = True
) -> Callable[..., Awaitable[PersonAccess]]:
    """Dependency factory: role check, reach-or-404, then the relation of ``action``
    (unless a narrower dependency checks it per case)."""
    guard = require(action)
    _roles, policy_relation = POLICY[action]
    relation = policy_relation if relation_checked else Relation.CASE_MEMBER

    async def dependency(
        person_id: PersonId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(guard)],
    ) -> PersonAccess:
        reach = await person_reach(session, principal, person_id)
        if reach is None:
            raise not_found(str(action), principal, "person", person_id)
        if relation == Relation.CASE_WRITER and not reach.writable:
            raise _read_only(action, principal, person_id)
        person = await session.get(Person, person_id)
        assert person is not None  # a participant row references it
        return PersonAccess(person=person, principal=principal, reach=reach, action=action)

    dependency.__name__ = f"person_for_{str(action).replace('.', '_')}"
    if relation_checked:
        declare_relation(dependency, action, "path:person_id", relation)
    if action in BODY_CASE:  # the route narrows with through_case(access, body.case_id)
        declare_relation(dependency, action, "body:case_id", BODY_CASE[action])
    return dependency


def _read_only(action: Action | str, principal: Principal, person_id: uuid.UUID) -> Forbidden:
    return Forbidden(
        "Emergency access is read-only.",
        denied=denial(str(action), principal, "person", person_id, "emergency access is read-only"),
    )


def through_case(access: PersonAccess, case_id: uuid.UUID) -> PersonAccess:
    """``access`` narrowed to one case (named in the path or the body): 404 unless
    the caller reads it and the person takes part in it; then the relation the
    POLICY row of the access's action names (403 for writing through emergency access)."""
    action = access.action
    narrowed = access.through(case_id)
    if narrowed is None:
        raise not_found(action, access.principal, "case", case_id)
    relation = BODY_CASE.get(action, POLICY[action][1])
    if relation == Relation.CASE_WRITER and not narrowed.reach.writable:
        raise _read_only(action, access.principal, access.person.id)
    return narrowed


def case_person_access(action: Action) -> Callable[..., Awaitable[PersonAccess]]:
    """Dependency factory for /cases/{case_id}/persons/{person_id}/...: the person
    reached through exactly that case."""
    inner = person_access(action, relation_checked=False)

    async def dependency(
        case_id: CaseId, access: Annotated[PersonAccess, Depends(inner)]
    ) -> PersonAccess:
        return through_case(access, case_id)

    return mark_loader(dependency, "case_person", action, POLICY[action][1], "path:case_id")


PersonCreator = Annotated[Principal, Depends(require(Action.PERSON_CREATE))]
#: The case a new person is recorded in (the body's ``case_id``).
NewPersonCase = Annotated[CaseLoader, Depends(body_case(Action.PERSON_CREATE))]
PersonSearcher = Annotated[Principal, Depends(require(Action.PERSON_SEARCH))]
AccessReportReader = Annotated[Principal, Depends(require(Action.PERSON_ACCESS_REPORT))]

CurrentPerson = Annotated[PersonAccess, Depends(person_access(Action.PERSON_READ))]
PersonUpdater = Annotated[PersonAccess, Depends(person_access(Action.PERSON_UPDATE))]
PersonHistoryReader = Annotated[PersonAccess, Depends(person_access(Action.PERSON_HISTORY_READ))]
ConsentReader = Annotated[PersonAccess, Depends(person_access(Action.CONSENT_READ))]
ConsentWriter = Annotated[PersonAccess, Depends(person_access(Action.CONSENT_WRITE))]
CaseFactsReader = Annotated[PersonAccess, Depends(case_person_access(Action.PERSON_FACTS_READ))]
CaseFactsUpdater = Annotated[PersonAccess, Depends(case_person_access(Action.PERSON_FACTS_UPDATE))]
CaseFactsHistoryReader = Annotated[
    PersonAccess, Depends(case_person_access(Action.PERSON_FACTS_HISTORY_READ))
]

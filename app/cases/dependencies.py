"""Permission-carrying dependencies for the case routes.

Two kinds:

- principal aliases (``CaseCreator``...) for routes without a case in the path;
- case aliases (``CurrentCase``, ``CaseUpdater``...): the role check of the
  action, then the case loaded *through* the readable-cases query (404 if the
  caller may not see it), then the relation the POLICY row names for the
  action (write needs membership, management needs a lead).
"""

# No "from __future__ import annotations": the dependency below closes over
# `guard`, and FastAPI must see the real Annotated object, not a string.

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import caller_bound, path_loader
from app.auth.markers import mark_loader, relation_of
from app.auth.policy import BODY_CASE, Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import CaseAccess, enforce_relation, load_case_access
from app.cases.emergency import load_outsider_case
from app.cases.models import Case

#: The relations a case-scoped route may carry (see access.enforce_relation).
CASE_RELATIONS = frozenset({Relation.CASE_MEMBER, Relation.CASE_WRITER, Relation.CASE_LEAD})

CaseId = Annotated[uuid.UUID, Path(description="The case id.")]


def case_access(action: Action) -> Callable[..., Awaitable[CaseAccess]]:
    """Dependency factory: role check, load-or-404, relation check for ``action``."""
    guard = require(action)
    relation = relation_of(action, *CASE_RELATIONS)

    async def load(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> CaseAccess:
        access = await load_case_access(session, principal, case_id, str(action))
        await enforce_relation(session, access, relation, str(action))
        return access

    dependency = path_loader(guard, "case_id", load, "The case id.")

    return mark_loader(dependency, "case", action, relation, "path:case_id")


@dataclass(frozen=True)
class CaseLoader:
    """Loads a case the request *body* names, for the route's action, with the
    relation the policy declares for it (``BODY_CASE``): 404 unless readable, then
    403 without the relation. Called where the route reads ``case_id``, so the
    order of the route's other checks stays its own."""

    session: AsyncSession
    principal: Principal
    action: Action
    relation: Relation

    async def __call__(self, case_id: uuid.UUID) -> CaseAccess:
        access = await load_case_access(self.session, self.principal, case_id, self.action)
        await enforce_relation(self.session, access, self.relation, self.action)
        return access


def body_case(action: Action) -> Callable[..., Awaitable[CaseLoader]]:
    """Dependency factory: role check, then a loader for the body's case (see above)."""
    guard = require(action)
    relation = BODY_CASE[action]
    if relation not in CASE_RELATIONS:
        raise RuntimeError(f"{action} declares {relation} for a body's case")

    make = partial(CaseLoader, action=action, relation=relation)
    return mark_loader(caller_bound(make, guard), "body_case", action, relation, "body:case_id")


@dataclass(frozen=True)
class OutsiderLoader:
    """Loads the path's case for breaking the glass, with the ``case_outsider``
    relation (``emergency.load_outsider_case``). A loader rather than the case
    itself: an idempotent replay must answer before "you already hold a grant"."""

    session: AsyncSession
    principal: Principal
    action: Action

    async def __call__(self, case_id: uuid.UUID) -> Case:
        return await load_outsider_case(self.session, self.principal, case_id, str(self.action))


def outsider_case(action: Action) -> Callable[..., Awaitable[OutsiderLoader]]:
    """Dependency factory: role check, then the loader of the path's case for an
    action whose POLICY relation is ``case_outsider``."""
    guard = require(action)
    relation = relation_of(action, Relation.CASE_OUTSIDER)
    make = partial(OutsiderLoader, action=action)
    return mark_loader(caller_bound(make, guard), "outsider", action, relation, "path:case_id")


CaseCreator = Annotated[Principal, Depends(require(Action.CASE_CREATE))]
CaseLister = Annotated[Principal, Depends(require(Action.CASE_LIST))]
CaseSearcher = Annotated[Principal, Depends(require(Action.CASE_SEARCH))]
#: Breaking the glass: the path's case, for a caller who is not in it.
EmergencyRequester = Annotated[OutsiderLoader, Depends(outsider_case(Action.CASE_EMERGENCY_ACCESS))]
EmergencyAccessReader = Annotated[Principal, Depends(require(Action.EMERGENCY_ACCESS_READ))]
EmergencyAccessReviewer = Annotated[Principal, Depends(require(Action.EMERGENCY_ACCESS_REVIEW))]

#: Load-or-404: the case, readable by the caller (member or emergency grant).
CurrentCase = Annotated[CaseAccess, Depends(case_access(Action.CASE_READ))]
CaseUpdater = Annotated[CaseAccess, Depends(case_access(Action.CASE_UPDATE))]
CaseTransitioner = Annotated[CaseAccess, Depends(case_access(Action.CASE_TRANSITION))]
CaseMemberReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_MEMBER_READ))]
CaseMemberManager = Annotated[CaseAccess, Depends(case_access(Action.CASE_MEMBER_MANAGE))]
CaseParticipantReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_PARTICIPANT_READ))]
CaseParticipantWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_PARTICIPANT_WRITE))]
CaseNoteReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_NOTE_READ))]
CaseNoteWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_NOTE_WRITE))]
CaseGrantReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_EMERGENCY_GRANTS_READ))]
CaseExclusionReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_EXCLUSION_READ))]
CaseExclusionWriter = Annotated[CaseAccess, Depends(case_access(Action.CASE_EXCLUSION_WRITE))]

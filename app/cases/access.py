"""Need-to-know in one place: the readable-cases query and the case loader.

A case is readable by its active members and, until the grant expires, by the
holder of an emergency grant, unless the caller's organisation is on the
case's must-not-receive list. Everything case-scoped is loaded *through* this
query, so a case the caller may not see is indistinguishable from a missing
one (404). Nothing here loads a case and then checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ColumnClause, Select, and_, bindparam, event, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.policy import Action, Relation
from app.auth.principal import Companion, Principal
from app.casekeys import service as casekeys
from app.casekeys.models import CaseKey
from app.cases.models import Case, CaseExclusion, CaseMember, EmergencyGrant
from app.cases.schemas import AccessKind, CaseRole
from app.directory.models import TeamMembership, User
from app.platform import context as requestctx
from app.platform.db import utcnow
from app.platform.problems import Forbidden, NotFound, denial

# The rule is written once over "who" (user, organisation) and "when": with the
# caller's values for ad-hoc queries, or with bound parameters for the
# statements the hot path builds once and reuses (see _case_access_statement).
# Or a column of an enclosing query (the caller's directory lookup, CaseCompanion):
# then each subquery correlates to that column's table explicitly, at any depth,
# instead of listing the table in its own FROM (which would match every user).
Who = Any  # a value, a bindparam() standing for one, or an outer query's column


def _correlated(statement: Select[Any], *who: Who) -> Select[Any]:
    tables = [w.table for w in who if isinstance(w, ColumnClause) and w.table is not None]
    return statement.correlate(*tables) if tables else statement


def _excluded(organisation: Who) -> Select[uuid.UUID]:
    return _correlated(
        select(CaseExclusion.case_id).where(
            CaseExclusion.organisation_id == organisation,
            CaseExclusion.removed_at.is_(None),
        ),
        organisation,
    )


def _members(user: Who, organisation: Who) -> Select[uuid.UUID]:
    return _correlated(
        select(CaseMember.case_id).where(
            CaseMember.user_id == user,
            CaseMember.removed_at.is_(None),
            CaseMember.case_id.not_in(_excluded(organisation)),
        ),
        user,
    )


def _granted(user: Who, organisation: Who, now: Who) -> Select[uuid.UUID]:
    return _correlated(
        select(EmergencyGrant.case_id).where(
            EmergencyGrant.user_id == user,
            EmergencyGrant.expires_at > now,
            EmergencyGrant.case_id.not_in(_excluded(organisation)),
        ),
        user,
    )


def _readable(user: Who, organisation: Who, now: Who, only: Who | None = None) -> Select[Case]:
    # One IN over a UNION (not two INs joined by OR): the planner can then start
    # from the caller's memberships, so the cost follows how many cases the
    # caller has, not how many cases exist (see bench/README.md).
    members, granted = _members(user, organisation), _granted(user, organisation, now)
    if only is not None:
        # One case: the same rule, narrowed inside the union too, so SQLite
        # looks up this case's membership and grant instead of listing every
        # case of the caller's first (bench/README.md, issue 13).
        members = members.where(CaseMember.case_id == only)
        granted = granted.where(EmergencyGrant.case_id == only)
    visible = union(members, granted)
    readable = select(Case).where(Case.id.in_(visible.scalar_subquery()))
    return readable if only is None else readable.where(Case.id == only)


def excluded_case_ids(principal: Principal) -> Select[uuid.UUID]:
    """Cases whose must-not-receive list names the caller's organisation.

    Part of the readable rule itself, not a check each path must remember: a
    member admitted before the entry was added loses access from then on, and
    an emergency grant does not open the case either.
    """
    return _excluded(principal.organisation_id)


def organisation_excluded_case_ids(organisation_id: uuid.UUID) -> Select[uuid.UUID]:
    """Cases whose must-not-receive list names this organisation (for rules about
    an organisation rather than a caller: a provider's inbox, webhooks)."""
    return _excluded(organisation_id)


def organisation_case_ids(organisation_id: uuid.UUID) -> Select[uuid.UUID]:
    """Cases an organisation takes part in: an active member of its own, and the
    case does not exclude it. Emergency grants are a person's, never the
    organisation's. The organisation-level rule of webhooks (app/events/service.py)."""
    return select(CaseMember.case_id).where(
        CaseMember.removed_at.is_(None),
        CaseMember.user_id.in_(select(User.id).where(User.organisation_id == organisation_id)),
        CaseMember.case_id.not_in(_excluded(organisation_id)),
    )


def member_case_ids(principal: Principal) -> Select[uuid.UUID]:
    """Cases the caller is an active member of, less those that exclude them."""
    return _members(principal.user_id, principal.organisation_id)


def granted_case_ids(principal: Principal, now: datetime) -> Select[uuid.UUID]:
    """Cases the caller holds an unexpired emergency grant to, less excluding ones."""
    return _granted(principal.user_id, principal.organisation_id, now)


def readable_cases(principal: Principal, now: datetime | None = None) -> Select[Case]:
    """THE visibility rule: membership, or an active unexpired emergency grant, and
    never for an organisation on the case's must-not-receive list."""
    return _readable(principal.user_id, principal.organisation_id, now or utcnow())


async def readable_case_ids(
    session: AsyncSession, principal: Principal, case_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``case_ids`` the caller may read now (for naming a case only to its
    readers: a concern's case, an event's case)."""
    if not case_ids:
        return set()
    stmt = readable_cases(principal).with_only_columns(Case.id).where(Case.id.in_(case_ids))
    return set((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class CaseAccess:
    """A case the caller may read, how they came to read it, and for which action.

    Services take the action from here (audit rows, refusals) instead of
    repeating the string the route's dependency already declared.
    """

    case: Case
    principal: Principal
    role: CaseRole | None  # None: access through an emergency grant only
    grant_id: uuid.UUID | None
    action: Action

    @property
    def kind(self) -> AccessKind:
        return AccessKind.MEMBER if self.role is not None else AccessKind.EMERGENCY

    @property
    def purpose(self) -> str:
        return "case work" if self.role is not None else "emergency access"

    def audit(
        self,
        session: AsyncSession,
        action: str,
        target_type: str = "case",
        target_id: uuid.UUID | str | None = None,
    ) -> None:
        """Record an access made through this case: the caller, the purpose (case work
        or emergency access) and, unless another target is named, the case itself."""
        if target_id is None and target_type == "case":
            target_id = self.case.id
        audit.record(session, self.principal, action, target_type, target_id, purpose=self.purpose)


@dataclass(frozen=True, slots=True)
class _KeyRow:
    """A case's key row as the case access statement read it."""

    wrapped_key: str | None
    destroyed_at: datetime | None


def not_found(
    action: Action | str, principal: Principal, target_type: str, target_id: Any
) -> NotFound:
    return NotFound(
        f"No such {target_type.replace('_', ' ')}.",
        denied=denial(str(action), principal, target_type, target_id, "not visible"),
    )


def _access_columns(user: Who, now: Who) -> tuple[Any, ...]:
    """What a case's access row carries besides the case: the caller's role in it,
    their unexpired emergency grant, and the case's key row (outer-joined: a case
    has none until its first sealed value), so reading its text needs no query."""
    role_sq = (
        select(CaseMember.case_role)
        .where(
            CaseMember.case_id == Case.id,
            CaseMember.user_id == user,
            CaseMember.removed_at.is_(None),
        )
        .scalar_subquery()
    )
    grant_sq = (
        select(EmergencyGrant.id)
        .where(
            EmergencyGrant.case_id == Case.id,
            EmergencyGrant.user_id == user,
            EmergencyGrant.expires_at > now,
        )
        .order_by(EmergencyGrant.expires_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return role_sq, grant_sq, CaseKey.case_id, CaseKey.wrapped_key, CaseKey.destroyed_at


@cache
def _case_access_statement() -> Select[Any]:
    """The readable rule for one case, with the caller's role and grant: built once
    (every authorised case request runs it), executed with bound parameters."""
    user: BindParameter[uuid.UUID] = bindparam("user")
    organisation: BindParameter[uuid.UUID] = bindparam("organisation")
    now: BindParameter[datetime] = bindparam("now")
    case_id: BindParameter[uuid.UUID] = bindparam("case_id")
    return (
        _readable(user, organisation, now, only=case_id)
        .add_columns(*_access_columns(user, now))
        .outerjoin(CaseKey, CaseKey.case_id == Case.id)
    )


#: The access row the caller's directory lookup read (CaseCompanion), for
#: :func:`load_case_access`: (user id, case id, row), used once. A snapshot
#: taken before the request wrote anything: forgotten at the session's first
#: flush (a new grant or membership is flushed before any query can see it),
#: so a later load in the same request reads the case afresh.
PREFETCHED = "casecoord.case_access_row"


def _forget_prefetched(session: Session, *_: Any) -> None:
    session.info.pop(PREFETCHED, None)


event.listen(Session, "before_flush", _forget_prefetched)


class CaseCompanion(Companion):
    """A path's ``case_id`` rides in the caller's directory lookup (app/auth/
    principal.py): the same readable rule and access columns as
    :func:`_case_access_statement`, over the looked-up user's columns, so a
    case route costs one query for the caller and the case together."""

    name = "case_id"

    def params(self, value: uuid.UUID) -> dict[str, Any]:
        return {"companion_case": value, "companion_now": utcnow()}

    def extend(self, statement: Select[Any], user: Any, organisation: Any) -> Select[Any]:
        case_id: BindParameter[uuid.UUID] = bindparam("companion_case")
        now: BindParameter[datetime] = bindparam("companion_now")
        members = _members(user, organisation).where(CaseMember.case_id == case_id)
        granted = _granted(user, organisation, now).where(EmergencyGrant.case_id == case_id)
        readable = and_(Case.id == case_id, Case.id.in_(union(members, granted).scalar_subquery()))
        return (
            statement.add_columns(Case, *_access_columns(user, now))
            .outerjoin(Case.__table__, readable)
            .outerjoin(CaseKey.__table__, CaseKey.case_id == Case.id)
        )

    def keep(
        self, session: AsyncSession, principal: Principal, value: uuid.UUID, row: Sequence[Any]
    ) -> None:
        session.info[PREFETCHED] = (principal.user_id, value, tuple(row))


async def load_case_access(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, action: Action | str
) -> CaseAccess:
    """Load a readable case with the caller's role and grant in one round trip
    (none of its own when the caller's lookup read it: CaseCompanion)."""
    kept = session.info.pop(PREFETCHED, None)
    if kept is not None and kept[0] == principal.user_id and kept[1] == case_id:
        row = kept[2] if kept[2][0] is not None else None
    else:
        params = {
            "user": principal.user_id,
            "organisation": principal.organisation_id,
            "now": utcnow(),
            "case_id": case_id,
        }
        row = (await session.execute(_case_access_statement(), params)).first()
    if row is None:
        raise not_found(action, principal, "case", case_id)
    case, role, grant_id, key_of, wrapped_key, destroyed_at = row
    casekeys.prime(session, case.id, None if key_of is None else _KeyRow(wrapped_key, destroyed_at))
    access = CaseAccess(
        case=case,
        principal=principal,
        role=CaseRole(role) if role is not None else None,
        grant_id=None if role is not None else grant_id,
        action=Action(action),
    )
    if access.grant_id is not None:
        # Every audit row written from here on is tagged with the grant.
        requestctx.emergency_grant_id.set(access.grant_id)
    return access


def grants_on_coordinated_teams(principal: Principal) -> Select[EmergencyGrant]:
    """Others' emergency grants on cases of the teams the caller coordinates, except
    cases the caller's organisation must not receive: what a coordinator is told of
    (app/cases/tasks.py), without any case content."""
    return (
        select(EmergencyGrant)
        .join(Case, Case.id == EmergencyGrant.case_id)
        .join(TeamMembership, TeamMembership.team_id == Case.team_id)
        .where(
            TeamMembership.user_id == principal.user_id,
            TeamMembership.team_role == "coordinator",
            EmergencyGrant.user_id != principal.user_id,
            Case.id.not_in(excluded_case_ids(principal)),
        )
    )


async def is_team_coordinator(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(TeamMembership.id).where(
            TeamMembership.team_id == team_id,
            TeamMembership.user_id == principal.user_id,
            TeamMembership.team_role == "coordinator",
        )
    )
    return found is not None


async def enforce_relation(
    session: AsyncSession, access: CaseAccess, relation: Relation, action: str
) -> None:
    """The relation an action needs beyond readability (see auth/policy.py)."""
    if relation == Relation.CASE_MEMBER:
        return
    principal = access.principal

    def refuse(detail: str, reason: str) -> Forbidden:
        return Forbidden(
            detail,
            denied=denial(action, principal, "case", access.case.id, reason),
        )

    if access.role is None:
        raise refuse("Emergency access is read-only.", "emergency access is read-only")
    if relation == Relation.CASE_WRITER:
        return
    if relation == Relation.CASE_LEAD:
        if access.role == CaseRole.LEAD or await is_team_coordinator(
            session, principal, access.case.team_id
        ):
            return
        raise refuse("Only a lead of the case or its team's coordinator may do this.", "not lead")
    raise refuse("This action is not available on a case.", f"relation {relation}")

"""Just-in-time registration: verified token claims to a directory user.

The hot path of every request, so a known user costs one query (the user,
the organisation's code and the team memberships together). The organisation
is pinned at registration: a token that claims another one is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import service as audit
from app.auth.principal import Companion, Principal, Role
from app.auth.tokens import VerifiedClaims
from app.directory.models import Organisation, TeamMembership, User
from app.directory.schemas import OrganisationKind
from app.platform.db import utcnow
from app.platform.problems import DeniedAccess, Unauthorized

LAST_SEEN_GRANULARITY = timedelta(minutes=15)
KNOWN_ROLES = frozenset(r.value for r in Role)


async def _get_or_create_org(session: AsyncSession, code: str, name: str | None) -> Organisation:
    org = await session.scalar(select(Organisation).where(Organisation.code == code))
    if org is not None:
        return org
    org = Organisation(code=code, name=name or code, kind=OrganisationKind.OTHER.value)
    try:
        async with session.begin_nested():
            session.add(org)
    except IntegrityError:  # registered concurrently by another request
        found = await session.scalar(select(Organisation).where(Organisation.code == code))
        assert found is not None
        return found
    audit.record(session, None, "directory.organisation.registered", "organisation", org.id)
    return org


@dataclass(frozen=True)
class Known:
    """The directory's view of a user that resolving a token needs (a plain row:
    a known user is not loaded into the session as an ORM object)."""

    id: uuid.UUID
    name: str
    roles: list[str]
    organisation_id: uuid.UUID
    disabled: bool
    tokens_valid_after: datetime | None
    last_seen_at: datetime | None

    @classmethod
    def of(cls, user: User) -> Known:
        return cls(*(getattr(user, name) for name in KNOWN_COLUMNS))


KNOWN_COLUMNS = [f.name for f in fields(Known)]


async def _mirror_claims(
    session: AsyncSession,
    user: Known,
    name: str,
    roles: list[str],
    now: datetime,
    loaded: User | None,
) -> None:
    """Copy changed claims onto the user and note when they were last seen.

    Both are unconditional UPDATEs rather than ORM changes: an ORM flush would
    carry ``WHERE version = n``, so a user's parallel requests (a browser loads
    several at once) would fail each other with 412, and merely being seen
    would change the ETag under an admin who is about to disable the user.
    Claims are the identity provider's truth, so the last writer may win; a
    real change still bumps the version, being seen does not. The organisation
    is never mirrored: it is pinned at registration and moved only by an admin.
    """
    values: dict[str, Any] = {}
    claims_changed = (user.name, sorted(user.roles)) != (name, roles)
    if claims_changed:
        values = {"name": name, "roles": roles}
        values.update(version=User.version + 1, updated_at=now)
        audit.record(session, None, "directory.user.mirrored", "user", user.id)
    seen = user.last_seen_at is None or now - user.last_seen_at > LAST_SEEN_GRANULARITY
    if seen:
        values["last_seen_at"] = now
    if not values:
        return
    await session.execute(
        update(User).where(User.id == user.id).values(**values),
        execution_options={"synchronize_session": False},
    )
    if loaded is None:
        return  # not in the session: whoever loads the user later reads the new row
    if claims_changed:
        await session.refresh(loaded)  # the new version, for ETags later in this request
    else:
        set_committed_value(loaded, "last_seen_at", now)


def _refused(user: Known | User, detail: str, reason: str) -> Unauthorized:
    """The token names this user, who may not use it (audited as ``auth.user``)."""
    user_id = str(user.id)
    denied = DeniedAccess("auth.user", target_type="user", target_id=user_id, reason=reason)
    return Unauthorized(detail, denied=denied)


def _organisation_mismatch(user: Known | User) -> Unauthorized:
    detail = "The token's organisation does not match the directory."
    return _refused(user, detail, "organisation mismatch")


@cache
def _known_user_statement(companion: Companion | None = None) -> Select[Any]:
    """Built once (every authenticated request runs it), executed with parameters.

    Core columns, not the ORM entity: the principal needs a few values, and
    loading a User into the session (identity map, instance state) was a
    measurable share of every request's CPU (bench/README.md, issue 13).
    With a companion, its object's access row is outer-joined (one per companion).
    """
    issuer: BindParameter[str] = bindparam("issuer")
    subject: BindParameter[str] = bindparam("subject")
    users = User.__table__.c
    statement = (
        select(
            *(users[name] for name in KNOWN_COLUMNS),
            Organisation.__table__.c.code,
            TeamMembership.__table__.c.team_id,
        )
        .select_from(User.__table__)
        .join(Organisation.__table__, Organisation.__table__.c.id == users.organisation_id)
        .outerjoin(TeamMembership.__table__, TeamMembership.__table__.c.user_id == users.id)
        .where(users.issuer == issuer, users.subject == subject)
    )
    if companion is None:
        return statement
    return companion.extend(statement, users.id, users.organisation_id)


async def resolve_principal(
    session: AsyncSession,
    verified: VerifiedClaims,
    companion: tuple[Companion, uuid.UUID] | None = None,
) -> Principal:
    """Map verified claims to a directory user; register unknown ones just in time.

    The claims were checked in app/auth/tokens.py. A user's organisation is
    pinned when they are registered: a token whose ``org`` disagrees with the
    directory is refused (and audited) until an admin moves the user.

    ``companion``: the object the route's path names rides in the known user's
    query (app/auth/principal.py); its row is handed over only once the user
    is resolved and allowed. A newcomer's request reads the object on its own.
    """
    subject, issuer, org_code = verified.subject, verified.issuer, verified.org
    name = verified.name or subject
    roles = frozenset(Role(r) for r in verified.roles if r in KNOWN_ROLES)
    issued_at = verified.issued_at

    # One round trip for a known user: the user, their organisation's code and
    # their team memberships (one row per team; the user row repeats).
    params = {"issuer": issuer, "subject": subject}
    if companion is not None:
        params.update(companion[0].params(companion[1]))
    statement = _known_user_statement(companion[0] if companion is not None else None)
    rows = (await session.execute(statement, params)).all()
    now = utcnow()
    role_list = sorted(r.value for r in roles)
    loaded: User | None = None  # the ORM object, when this request made or loaded one
    if rows:
        width = len(KNOWN_COLUMNS)
        user = Known(*rows[0][:width])
        pinned_code = rows[0][width]
        team_ids = frozenset(row[width + 1] for row in rows if row[width + 1] is not None)
        if pinned_code != org_code:
            raise _organisation_mismatch(user)
    else:
        org = await _get_or_create_org(session, org_code, verified.org_name)
        pinned_code = org.code
        team_ids = frozenset()
        loaded = User(
            issuer=issuer,
            subject=subject,
            name=name,
            organisation_id=org.id,
            roles=role_list,
            last_seen_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(loaded)
        except IntegrityError:
            found = await session.scalar(
                select(User).where(User.issuer == issuer, User.subject == subject)
            )
            assert found is not None
            loaded = found
            user = Known.of(found)
            if user.organisation_id != org.id:  # registered concurrently elsewhere
                raise _organisation_mismatch(user) from None
            team_ids = frozenset(
                (
                    await session.scalars(
                        select(TeamMembership.team_id).where(TeamMembership.user_id == user.id)
                    )
                ).all()
            )
        else:
            user = Known.of(loaded)
            audit.record(session, None, "directory.user.registered", "user", user.id)
    if user.disabled:
        raise _refused(user, "This account is disabled.", "disabled")
    if user.tokens_valid_after is not None and issued_at < user.tokens_valid_after:
        detail = "This token was issued before the account's tokens were revoked."
        raise _refused(user, detail, "token revoked")
    await _mirror_claims(session, user, name, role_list, now, loaded)
    principal = Principal(
        user_id=user.id,
        subject=subject,
        name=name,
        organisation_id=user.organisation_id,
        organisation_code=pinned_code,
        roles=roles,
        scopes=verified.scopes,
        team_ids=team_ids,
        issued_at=issued_at,
    )
    if companion is not None and rows:
        companion[0].keep(session, principal, companion[1], rows[0][len(KNOWN_COLUMNS) + 2 :])
    return principal

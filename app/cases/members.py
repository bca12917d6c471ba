"""Case members: the professionals who may see a case.

A lead of the case, or its team's coordinator, admits and removes members.
Admission is by team: someone outside the case's team is *invited* with a
written reason, and so is anyone who is not police in a HAH case (police own
HAH; only a lead may invite others in). A case always keeps one lead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.auth.policy import PROFESSIONALS, Action
from app.auth.principal import Role
from app.casekeys.freetext import open_text, seal_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess
from app.cases.entries import (
    amend_standing,
    get_standing,
    list_standing,
    reinstate,
    remove_standing,
)
from app.cases.exclusions import MustNotReceive, Party, may_receive
from app.cases.lifecycle import Scheme
from app.cases.models import CaseMember
from app.cases.schemas import CaseRole, MemberCreate, MemberRead, MemberUpdate
from app.directory.models import TeamMembership, User
from app.events.outbox import EventType, emit
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.etag import check_version
from app.platform.problems import Conflict, Forbidden, denial, field_error


def to_read(cipher: CaseCipher, member: CaseMember) -> MemberRead:
    """The member; the invitation's reason opens under the case key (410 once shredded)."""
    return MemberRead(
        id=member.id,
        case_id=member.case_id,
        user_id=member.user_id,
        user_name=member.user.name,
        organisation_id=member.user.organisation_id,
        case_role=CaseRole(member.case_role),
        invited=member.invited,
        invite_reason=open_text(cipher, member, "invite_reason"),
        added_by=member.added_by,
        created_at=member.created_at,
        version=member.version,
    )


async def list_members(session: AsyncSession, access: CaseAccess) -> Sequence[CaseMember]:
    load_user = selectinload(CaseMember.user)
    return await list_standing(session, access, CaseMember, "case.member.listed", load_user)


async def get_member(
    session: AsyncSession, access: CaseAccess, member_id: uuid.UUID, action: str
) -> CaseMember:
    """A member *of this case*; another case's member id is a 404 like a missing one."""
    load_user = selectinload(CaseMember.user)
    return await get_standing(
        session, access, CaseMember, member_id, action, "case_member", load_user
    )


async def reads(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, members: Sequence[CaseMember]
) -> list[MemberRead]:
    cipher = await case_cipher(session, keyring, access.case.id)
    return [to_read(cipher, m) for m in members]


async def read_member(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, member: CaseMember
) -> MemberRead:
    access.audit(session, Action.CASE_MEMBER_READ, "case_member", member.id)
    return (await reads(session, keyring, access, [member]))[0]


async def add_member(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, data: MemberCreate
) -> CaseMember:
    case, principal = access.case, access.principal
    user = await session.get(User, data.user_id)
    professional = {r.value for r in PROFESSIONALS}
    if user is None or user.disabled or not professional.intersection(user.roles):
        raise field_error(
            "user_id", "No such user, or the user cannot be a case member.", "invalid"
        )
    in_team = await session.scalar(
        select(TeamMembership.id).where(
            TeamMembership.team_id == case.team_id, TeamMembership.user_id == user.id
        )
    )
    hah_outsider = case.scheme == Scheme.HAH and Role.POLICE.value not in user.roles
    if hah_outsider and access.role != CaseRole.LEAD:
        raise Forbidden(
            "Only a lead may invite someone other than police into a HAH case.",
            denied=denial(
                Action.CASE_MEMBER_MANAGE, principal, "case", case.id, "hah invite needs lead"
            ),
        )
    if not await may_receive(session, case.id, Party(user_id=user.id)):
        raise MustNotReceive(
            "The user's organisation is on this case's must-not-receive list.",
            denied=denial(
                Action.CASE_MEMBER_MANAGE, principal, "case", case.id, "must not receive"
            ),
        )
    invited = in_team is None or hah_outsider
    if invited and not data.invite_reason:
        detail = (
            "HAH cases admit only police; invite others with a reason."
            if hah_outsider
            else "The user is not in the case's team; invite them with a reason."
        )
        raise field_error("invite_reason", detail, "missing")
    # Before any row is pending: making the key flushes the session.
    cipher = await case_cipher(session, keyring, case.id, create=True)
    member = await session.scalar(
        select(CaseMember)
        .where(CaseMember.case_id == case.id, CaseMember.user_id == user.id)
        .options(selectinload(CaseMember.user))
    )
    if member is not None and member.removed_at is None:
        raise Conflict("The user is already a member of this case.")
    if member is None:
        member = CaseMember(id=uuid.uuid4(), case_id=case.id, user_id=user.id, user=user)
        session.add(member)
    member.case_role = data.case_role.value
    member.invited = invited
    seal_text(cipher, member, "invite_reason", data.invite_reason)
    reinstate(member, access)
    await session.flush()
    action = "case.member.invited" if invited else "case.member.added"
    access.audit(session, action, "case_member", member.id)
    emit(session, EventType.CASE_MEMBER_ADDED, principal, "case_member", member.id, case.id)
    return member


async def _ensure_a_lead_remains(session: AsyncSession, member: CaseMember) -> None:
    if member.case_role != CaseRole.LEAD:
        return
    leads = await session.scalar(
        select(func.count()).where(
            CaseMember.case_id == member.case_id,
            CaseMember.case_role == CaseRole.LEAD.value,
            CaseMember.removed_at.is_(None),
        )
    )
    if (leads or 0) <= 1:
        raise Conflict("A case must keep at least one lead; appoint another lead first.")


async def update_member(
    session: AsyncSession,
    access: CaseAccess,
    member: CaseMember,
    data: MemberUpdate,
    expected_version: int,
) -> CaseMember:
    check_version(expected_version, member.version)
    if data.case_role != CaseRole.LEAD:
        await _ensure_a_lead_remains(session, member)
    member.case_role = data.case_role.value
    await amend_standing(session, access, member, "case.member.updated", "case_member")
    return member


async def remove_member(
    session: AsyncSession, access: CaseAccess, member: CaseMember, expected_version: int
) -> None:
    """Soft removal: the row stays, so who could see the case remains answerable."""
    check_version(expected_version, member.version)
    await _ensure_a_lead_remains(session, member)
    await remove_standing(session, access, member, "case.member.removed", "case_member")
    emit(
        session,
        EventType.CASE_MEMBER_REMOVED,
        access.principal,
        "case_member",
        member.id,
        member.case_id,
    )

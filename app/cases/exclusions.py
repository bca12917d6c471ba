"""Must-not-receive lists: parties who must never get a case's information.

Typically the perpetrator and their relatives (docs/DOMAIN.md section 1, "Safe
contact"), or an organisation that employs one of them. :func:`may_receive`
is the ONE question every outgoing path asks: member admission asks it here,
and notifications, documents and referrals (later domains) must ask it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.casekeys.freetext import read_values, seal_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess
from app.cases.entries import get_standing, list_standing, remove_standing, standing
from app.cases.models import CaseExclusion, CaseMember
from app.cases.participants import visible_person_ids
from app.cases.schemas import ExclusionCreate, ExclusionRead
from app.directory.models import Organisation, User
from app.platform.crypto import KeyRing
from app.platform.etag import check_version
from app.platform.problems import Conflict, field_error


class MustNotReceive(Conflict):
    type = "must-not-receive"
    title = "Party is on the must-not-receive list"


@dataclass(frozen=True)
class Party:
    """Whoever would receive the information: a person, an organisation or a user."""

    person_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


async def may_receive(session: AsyncSession, case_id: uuid.UUID, party: Party) -> bool:
    """May this party receive this case's information? False if the party, or
    (for a user) their organisation, is on the case's must-not-receive list."""
    organisations = {party.organisation_id} - {None}
    if party.user_id is not None:
        organisation = await session.scalar(
            select(User.organisation_id).where(User.id == party.user_id)
        )
        organisations.add(organisation)
    clauses: list[ColumnElement[bool]] = []
    if party.person_id is not None:
        clauses.append(CaseExclusion.person_id == party.person_id)
    if organisations - {None}:
        clauses.append(CaseExclusion.organisation_id.in_(organisations - {None}))
    if not clauses:
        return True
    hit = await session.scalar(
        select(CaseExclusion.id)
        .where(
            CaseExclusion.case_id == case_id,
            CaseExclusion.removed_at.is_(None),
            or_(false(), *clauses),
        )
        .limit(1)
    )
    return hit is None


async def list_exclusions(session: AsyncSession, access: CaseAccess) -> Sequence[CaseExclusion]:
    return await list_standing(session, access, CaseExclusion, "case.exclusion.listed")


async def get_exclusion(
    session: AsyncSession, access: CaseAccess, entry_id: uuid.UUID, action: str
) -> CaseExclusion:
    return await get_standing(session, access, CaseExclusion, entry_id, action, "case_exclusion")


async def reads(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, rows: Sequence[CaseExclusion]
) -> list[ExclusionRead]:
    """The entries; each reason opens under the case key (410 once shredded)."""
    cipher = await case_cipher(session, keyring, access.case.id)
    return [ExclusionRead.model_validate(read_values(cipher, e, ("reason",))) for e in rows]


async def add_exclusion(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, data: ExclusionCreate
) -> CaseExclusion:
    case, principal = access.case, access.principal
    losing: Sequence[uuid.UUID] = ()
    if data.person_id is not None:
        visible = await _person_visible(session, access, data.person_id)
        if not visible:
            raise field_error(
                "person_id", "No such person among the people you can see.", "not_found"
            )
        same = CaseExclusion.person_id == data.person_id
    else:
        if await session.get(Organisation, data.organisation_id) is None:
            raise field_error("organisation_id", "No such organisation.", "not_found")
        # Members of the organisation stay on the list of members, but the
        # readable-cases rule (app/cases/access.py) shuts them out from now on.
        losing = (
            await session.scalars(
                select(CaseMember.id)
                .join(User, User.id == CaseMember.user_id)
                .where(
                    CaseMember.case_id == case.id,
                    CaseMember.removed_at.is_(None),
                    User.organisation_id == data.organisation_id,
                )
            )
        ).all()
        same = CaseExclusion.organisation_id == data.organisation_id
    if await session.scalar(select(CaseExclusion.id).where(*standing(CaseExclusion, access), same)):
        raise Conflict("This party is already on the must-not-receive list.")
    entry = CaseExclusion(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=data.person_id,
        organisation_id=data.organisation_id,
        added_by=principal.user_id,
    )
    cipher = await case_cipher(session, keyring, case.id, create=True)
    seal_text(cipher, entry, "reason", data.reason)
    session.add(entry)
    await session.flush()
    access.audit(session, "case.exclusion.added", "case_exclusion", entry.id)
    for member_id in losing:
        # One row per member who loses access, naming the membership (case and
        # user) and the entry that shut them out.
        session.add(
            audit.build_event(
                principal,
                "case.member.access_lost",
                "case_member",
                member_id,
                purpose=access.purpose,
                reason=f"must-not-receive:{entry.id}",
            )
        )
    return entry


async def _person_visible(session: AsyncSession, access: CaseAccess, person_id: uuid.UUID) -> bool:
    subquery = visible_person_ids(access.principal).subquery()
    found = await session.scalar(select(subquery.c.id).where(subquery.c.id == person_id))
    return found is not None


async def remove_exclusion(
    session: AsyncSession, access: CaseAccess, entry: CaseExclusion, expected_version: int
) -> None:
    """Soft removal: who was excluded, and until when, stays answerable."""
    check_version(expected_version, entry.version)
    await remove_standing(session, access, entry, "case.exclusion.removed", "case_exclusion")

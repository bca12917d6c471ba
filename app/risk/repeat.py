"""Marak repeat detection across every Marak case, visible to the caller or not.

docs/DOMAIN.md: any new incident between the same victim and perpetrator within
12 months of their last Marak referral goes back to Marak whatever the score,
and every agency must see the "flag" for those 12 months. The earlier referral
is often in a case the current professionals are not members of (another
team, another year), so this query deliberately does NOT go through the
readable-cases query. To keep need-to-know intact it returns one thing only:
the date of the latest referral. Never the case, its id, its team or its
content; that case stays a 404 to anyone who is not its member.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.cases.lifecycle import CaseStatus, Scheme
from app.cases.models import Case, CaseParticipant, CaseTransition
from app.cases.schemas import ParticipantRole
from app.platform.clock import local_date


def _people(case_id: uuid.UUID, role: ParticipantRole) -> Select[uuid.UUID]:
    return select(CaseParticipant.person_id).where(
        CaseParticipant.case_id == case_id,
        CaseParticipant.role == role.value,
        CaseParticipant.removed_at.is_(None),
    )


async def last_referral_on(session: AsyncSession, case_id: uuid.UUID) -> date | None:
    """The Finnish date of the latest Marak referral of this case's victim and perpetrator.

    A referral is a transition to ``referred`` in any Marak case (this one
    included) in which one of this case's victims is a victim and one of its
    perpetrators is a perpetrator. None when the pair was never referred.
    """
    victim = aliased(CaseParticipant)
    perpetrator = aliased(CaseParticipant)
    stmt = (
        select(func.max(CaseTransition.occurred_at))
        .join(Case, Case.id == CaseTransition.case_id)
        .join(
            victim,
            and_(
                victim.case_id == Case.id,
                victim.role == ParticipantRole.VICTIM.value,
                victim.removed_at.is_(None),
                victim.person_id.in_(_people(case_id, ParticipantRole.VICTIM)),
            ),
        )
        .join(
            perpetrator,
            and_(
                perpetrator.case_id == Case.id,
                perpetrator.role == ParticipantRole.PERPETRATOR.value,
                perpetrator.removed_at.is_(None),
                perpetrator.person_id.in_(_people(case_id, ParticipantRole.PERPETRATOR)),
            ),
        )
        .where(
            Case.scheme == Scheme.MARAK.value,
            CaseTransition.to_status == CaseStatus.REFERRED.value,
        )
    )
    referred_at = await session.scalar(stmt)
    return local_date(referred_at) if referred_at is not None else None

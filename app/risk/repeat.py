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
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.cases.lifecycle import CaseStatus, Scheme
from app.cases.models import Case, CaseParticipant, CaseTransition
from app.cases.schemas import ParticipantRole
from app.platform.clock import local_date


def _standing_as(row: Any, role: ParticipantRole) -> tuple[ColumnElement[bool], ...]:
    """A participant ``row`` (the table or an alias) not removed, in ``role``."""
    return row.role == role.value, row.removed_at.is_(None)


def _people(case_id: uuid.UUID, role: ParticipantRole) -> Select[uuid.UUID]:
    where = (CaseParticipant.case_id == case_id, *_standing_as(CaseParticipant, role))
    return select(CaseParticipant.person_id).where(*where)


def _as_in(case_id: uuid.UUID, row: Any, role: ParticipantRole) -> ColumnElement[bool]:
    """``row`` (an alias of the participants) stands in its case as one of the people
    who are ``role`` in the case ``case_id``."""
    in_case = row.case_id == Case.id
    return and_(in_case, *_standing_as(row, role), row.person_id.in_(_people(case_id, role)))


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
        .join(victim, _as_in(case_id, victim, ParticipantRole.VICTIM))
        .join(perpetrator, _as_in(case_id, perpetrator, ParticipantRole.PERPETRATOR))
        .where(
            Case.scheme == Scheme.MARAK.value,
            CaseTransition.to_status == CaseStatus.REFERRED.value,
        )
    )
    referred_at = await session.scalar(stmt)
    return local_date(referred_at) if referred_at is not None else None

"""Gates that make disclosure depend on a recorded basis (docs/DOMAIN.md sections 1 and 4).

A Marak case goes to the group only with the victim's consent. It is checked
against the consent records of the persons domain, not against a statement
on the transition: at the referral, and again at every later step that
discloses the case to the group (putting it on the agenda, discussing it at
a meeting). Withdrawing consent therefore stops the case at the next such
step; the refused transition is audited as a denial (app/cases/service.py).

This module sits in cases because cases may ask persons, never the reverse.
app/cases/install.py registers the gates.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.cases.lifecycle import CaseStatus, GateContext, GateFn, Scheme
from app.cases.models import CaseParticipant
from app.cases.schemas import ParticipantRole
from app.persons.consent_schemas import LegalBasis, SharingScope
from app.persons.consents import sharing_problem

#: Marak steps that disclose the case to the multi-agency group.
MARAK_DISCLOSURES = (CaseStatus.REFERRED, CaseStatus.ON_AGENDA, CaseStatus.MEETING)


async def victims_of(ctx: GateContext) -> list[uuid.UUID]:
    rows = await ctx.session.scalars(
        select(CaseParticipant.person_id).where(
            CaseParticipant.case_id == ctx.case.id,
            CaseParticipant.role == ParticipantRole.VICTIM.value,
            CaseParticipant.removed_at.is_(None),
        )
    )
    return list(rows.all())


async def marak_victim_consent(ctx: GateContext) -> str | None:
    """Every victim in the case has a live consent to Marak sharing *given for this
    case* on record (one given to another team's case does not count)."""
    victims = await victims_of(ctx)
    if not victims:
        return "Record the victim as a participant, with their consent, before the group."
    for person_id in victims:
        problem = await sharing_problem(
            ctx.session,
            person_id,
            SharingScope.MARAK_SHARING,
            ctx.case.id,
            accepted=(LegalBasis.CONSENT,),
        )
        if problem is not None:
            return f"The victim's consent: {problem}"
    return None


GATES: tuple[tuple[Scheme | None, CaseStatus, GateFn], ...] = tuple(
    (Scheme.MARAK, state, marak_victim_consent) for state in MARAK_DISCLOSURES
)

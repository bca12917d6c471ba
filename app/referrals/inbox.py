"""Lists of referrals: a service's inbox, and the outbox of the cases one can read.

- **inbox**: referrals sent to the caller's organisation (service providers and
  their systems), each shown as the provider sees it and audited as a
  disclosure to that organisation;
- **outbox**: referrals made in the cases the caller can read (the
  readable-cases query), shown in full.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from app.auth.predicates import is_case_worker, is_provider
from app.auth.principal import Principal
from app.casekeys.service import case_ciphers
from app.cases.access import member_case_ids
from app.cases.models import CaseMember
from app.platform.clock import clock
from app.platform.crypto import KeyRing
from app.platform.pagination import apply_keyset, encode_cursor
from app.platform.problems import DeniedAccess, Forbidden
from app.referrals.models import Referral
from app.referrals.schemas import ProviderReferralRead, ReferralBox, ReferralRead
from app.referrals.service import audit_person, received_by, referred_from
from app.referrals.states import ReferralUrgency, Side, Status
from app.referrals.views import Context, ContextRow, context_query, overdue_clause, render


def default_box(principal: Principal) -> ReferralBox:
    return ReferralBox.INBOX if is_provider(principal) else ReferralBox.OUTBOX


def _box_filter(principal: Principal, box: ReferralBox) -> Any:
    if box == ReferralBox.INBOX:
        if not is_provider(principal):
            raise Forbidden(
                "Only a service's providers have an inbox; use box=outbox.",
                denied=DeniedAccess(
                    action=Action.REFERRAL_LIST, actor=principal, reason="no inbox"
                ),
            )
        return received_by(principal)
    if not is_case_worker(principal):
        raise Forbidden(
            "Only case workers have an outbox; use box=inbox.",
            denied=DeniedAccess(action=Action.REFERRAL_LIST, actor=principal, reason="no outbox"),
        )
    return referred_from(principal, clock.now())


async def _member_cases(
    session: AsyncSession, principal: Principal, case_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    if not case_ids:
        return set()
    rows = await session.scalars(member_case_ids(principal).where(CaseMember.case_id.in_(case_ids)))
    return set(rows.all())


async def list_referrals(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    *,
    box: ReferralBox,
    statuses: list[Status] | None = None,
    case_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    urgency: ReferralUrgency | None = None,
    overdue: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ReferralRead | ProviderReferralRead], str | None]:
    now = clock.now()
    stmt: ContextRow = context_query().where(_box_filter(principal, box))
    if statuses:
        stmt = stmt.where(Referral.status.in_([s.value for s in statuses]))
    if case_id is not None:
        stmt = stmt.where(Referral.case_id == case_id)
    if service_id is not None:
        stmt = stmt.where(Referral.service_id == service_id)
    if urgency is not None:
        stmt = stmt.where(Referral.urgency == urgency.value)
    if overdue is not None:
        stmt = stmt.where(overdue_clause(now) if overdue else ~overdue_clause(now))
    stmt = apply_keyset(stmt, Referral.created_at, Referral.id, cursor, limit)
    rows = (await session.execute(stmt)).all()
    side = Side.PROVIDER if box == ReferralBox.INBOX else Side.REFERRER
    page = rows[:limit]
    # Moves are offered to providers and to active members (not emergency readers).
    writable = await _member_cases(session, principal, {row[0].case_id for row in page})
    ciphers = await case_ciphers(session, keyring, {row[0].case_id for row in page})
    items = []
    for row in page:
        referral = row[0]
        ctx = Context(*row[1:])
        may_move = side == Side.PROVIDER or referral.case_id in writable
        items.append(render(ciphers[referral.case_id], referral, ctx, side, may_move))
        why = "service referral (inbox)" if side == Side.PROVIDER else "case work (outbox)"
        audit_person(session, principal, "referral.listed", referral, why)
    nxt = None
    if len(rows) > limit and items:
        last = rows[limit - 1][0]
        nxt = encode_cursor(last.created_at, last.id)
    return items, nxt

"""The case that rides in the caller's directory lookup (CaseCompanion) is decided
by exactly the case's own readable rule.

A case route reads its case in the same query as the caller (issue 13). That
query correlates the rule's subqueries to the looked-up user's row instead of
binding the caller's ids; a subquery that failed to correlate would list
``users`` in its own FROM and match *every* user (a case excluded for anyone
would vanish for everyone, or worse). So each arrangement below is read both
ways, and the two must agree on the case, the role, the grant and the key row.
The row read early is only used for the same caller and case: another user's
or another case's request reads its own.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.access import PREFETCHED, CaseCompanion, _case_access_statement, load_case_access
from app.cases.models import Case, CaseExclusion, EmergencyGrant
from app.directory.registration import KNOWN_COLUMNS, _known_user_statement
from app.platform.db import utcnow
from app.platform.problems import NotFound
from tests.cases.factories import add_grant, add_member, make_case
from tests.world import ISSUER, Actor, World

COMPANION = CaseCompanion()


def _shape(row: Any) -> tuple[Any, ...] | None:
    if row is None or row[0] is None:
        return None
    case, role, grant_id, key_of, _wrapped, destroyed = row
    return (case.id, role, grant_id, key_of, destroyed)


async def _both_ways(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> tuple[Any, Any]:
    now = utcnow()
    own = (
        await db.execute(
            _case_access_statement(),
            {"user": actor.id, "organisation": actor.org_id, "now": now, "case_id": case_id},
        )
    ).first()
    params = {"issuer": ISSUER, "subject": actor.sub, "companion_case": case_id}
    params["companion_now"] = now
    rows = (await db.execute(_known_user_statement(COMPANION), params)).all()
    assert rows, "the caller is a known user"
    companion = rows[0][len(KNOWN_COLUMNS) + 2 :]
    # Every team row of the caller carries the same case part.
    assert {_shape(r[len(KNOWN_COLUMNS) + 2 :]) for r in rows} == {_shape(companion)}
    return _shape(own), _shape(companion)


async def _exclude(db: AsyncSession, case: Case, organisation_id: uuid.UUID, by: Actor) -> None:
    db.add(CaseExclusion(case_id=case.id, organisation_id=organisation_id, added_by=by.id))
    await db.flush()


ARRANGEMENTS = [
    "lead",
    "member",
    "removed member",
    "member, own organisation excluded",
    "member, another organisation excluded",
    "active grant",
    "expired grant",
    "active grant, own organisation excluded",
    "member and grant",
    "stranger",
    "no such case",
]


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
async def test_the_companion_decides_as_the_case_query(
    db: AsyncSession, world: World, arrangement: str
) -> None:
    case = await make_case(db, world.marak, world.police)
    other = await make_case(db, world.marak, world.social_worker)
    await _exclude(db, other, world.health.org_id, world.social_worker)  # noise
    actor, case_id, expect = world.health, case.id, True
    if arrangement == "lead":
        actor = world.police
    elif arrangement == "member":
        await add_member(db, case, actor)
    elif arrangement == "removed member":
        member = await add_member(db, case, actor)
        member.removed_at = utcnow()
        expect = False
    elif arrangement == "member, own organisation excluded":
        await add_member(db, case, actor)
        await _exclude(db, case, actor.org_id, world.police)
        expect = False
    elif arrangement == "member, another organisation excluded":
        await add_member(db, case, actor)
        await _exclude(db, case, world.other.id, world.police)
    elif arrangement == "active grant":
        await add_grant(db, case, actor)
    elif arrangement == "expired grant":
        grant = await add_grant(db, case, actor)
        grant.expires_at = utcnow() - timedelta(minutes=1)
        expect = False
    elif arrangement == "active grant, own organisation excluded":
        await add_grant(db, case, actor)
        await _exclude(db, case, actor.org_id, world.police)
        expect = False
    elif arrangement == "member and grant":
        await add_member(db, case, actor)
        await add_grant(db, case, actor)
    elif arrangement == "stranger":
        actor, expect = world.outsider_police, False
    else:
        case_id, expect = uuid.uuid4(), False
    await db.flush()
    own, companion = await _both_ways(db, actor, case_id)
    assert own == companion
    assert (own is not None) is expect, own
    if arrangement == "member and grant":
        assert own is not None and own[1] == "member"  # the role wins over the grant


async def test_a_grant_row_is_the_same_grant(db: AsyncSession, world: World) -> None:
    case = await make_case(db, world.marak, world.police)
    grant: EmergencyGrant = await add_grant(db, case, world.outsider_police)
    own, companion = await _both_ways(db, world.outsider_police, case.id)
    assert own == companion and own is not None
    assert (own[1], own[2]) == (None, grant.id)


async def test_the_kept_row_serves_only_its_caller_and_case(db: AsyncSession, world: World) -> None:
    """A kept row for one caller or case is never handed to another: the other
    request's loader runs its own query and decides by its own rule."""
    case = await make_case(db, world.marak, world.police)
    readable_to_police = (world.police.id, case.id, (case, "lead", None, None, None, None))
    # Kept for the police lead; the health worker (no member) asks for the same case.
    db.info[PREFETCHED] = readable_to_police
    health = world.health.principal()
    with pytest.raises(NotFound):
        await load_case_access(db, health, case.id, "case.read")
    # Kept for this case; the lead asks for another case they may not read.
    unreadable = await make_case(db, world.ankkuri, world.social_worker)
    db.info[PREFETCHED] = readable_to_police
    with pytest.raises(NotFound):
        await load_case_access(db, world.police.principal(), unreadable.id, "case.read")
    # And for its own caller and case, the kept row is what the loader returns.
    db.info[PREFETCHED] = readable_to_police
    access = await load_case_access(db, world.police.principal(), case.id, "case.read")
    assert access.case is case and access.role is not None and PREFETCHED not in db.info


async def test_over_http_only_the_excluded_organisation_loses_the_case(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    excluding_social = await make_case(db, world.marak, world.police)
    excluding_other = await make_case(db, world.marak, world.police)
    for case in (excluding_social, excluding_other):
        await add_member(db, case, world.social_worker)
    await _exclude(db, excluding_social, world.social.id, world.police)
    await _exclude(db, excluding_other, world.other.id, world.police)
    await db.commit()

    async def status(actor: Actor, case: Case) -> int:
        return (await client.get(f"/api/v1/cases/{case.id}", headers=actor.headers)).status_code

    assert await status(world.social_worker, excluding_social) == 404
    assert await status(world.social_worker, excluding_other) == 200
    assert await status(world.police, excluding_social) == 200
    assert await status(world.police, excluding_other) == 200


async def test_the_kept_row_is_forgotten_once_the_request_writes(
    db: AsyncSession, world: World
) -> None:
    """A snapshot from before the request's first write is not reused after it:
    a later load in the same request (after a grant or a membership changed)
    reads the case afresh."""
    case = await make_case(db, world.marak, world.police)
    await db.flush()
    db.info[PREFETCHED] = (world.health.id, case.id, (case, "member", None, None, None, None))
    await add_grant(db, case, world.outsider_police)  # any write: the session flushes
    assert PREFETCHED not in db.info
    with pytest.raises(NotFound):  # the health worker is no member: their own query says so
        await load_case_access(db, world.health.principal(), case.id, "case.read")

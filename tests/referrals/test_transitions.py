"""The referral state machine over HTTP, from both sides, generated from app/referrals/states.py.

Every state is reached through the API (the referrer's and the provider's tokens);
every legal move is made by its owner, every other move is refused with the
caller's own moves, and nothing changes on a refusal.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.referrals.states import HOLDABLE, MOVES, NEEDS_REASON, REASONS, Side, Status
from tests.cases.factories import add_grant
from tests.problems import assert_problem
from tests.referrals.conftest import API, ReferralWorld, create, move, moved, sent
from tests.world import Actor

S = Status


def _paths() -> dict[Status, list[Status]]:
    """A shortest route from draft to every state, over MOVES only."""
    paths: dict[Status, list[Status]] = {S.DRAFT: []}
    frontier = [S.DRAFT]
    while frontier:
        here = frontier.pop(0)
        for src, dst in MOVES:
            if src == here and dst not in paths:
                paths[dst] = [*paths[src], dst]
                frontier.append(dst)
    return paths


PATHS = _paths()
assert set(PATHS) == set(Status), "every state is reachable from draft"
# Cancelled once sent, so that the provider has it too (a draft cancelled unsent is
# never the provider's: test_draft_cancelled_unsent_is_never_shown_to_the_provider).
PATHS[S.CANCELLED] = [*PATHS[S.REQUESTED], S.CANCELLED]
#: Where a referral can be: (state, held_from); on_hold once from each holdable state.
WHERE = [(s, None) for s in Status if s != S.ON_HOLD] + [
    (S.ON_HOLD, h) for h in Status if h in HOLDABLE
]


def route(state: Status, held: Status | None) -> list[Status]:
    return [*PATHS[held], S.ON_HOLD] if held is not None else PATHS[state]


def legal(state: Status, held: Status | None) -> dict[Status, Side]:
    """The moves out of a state and their owners: MOVES, plus on_hold -> held_from."""
    moves = {dst: side for (src, dst), side in MOVES.items() if src == state}
    if held is not None:
        moves[held] = Side.PROVIDER
    return moves


def own(state: Status, held: Status | None, side: Side) -> list[str]:
    return sorted(to.value for to, owner in legal(state, held).items() if owner == side)


def label(state: Status, held: Status | None) -> str:
    return f"on_hold({held.value})" if held is not None else state.value


def extra_for(to: Status) -> dict[str, str]:
    """A body that passes validation for a move to ``to``."""
    if to in NEEDS_REASON:
        code = sorted(REASONS[to])[0]
        return {"reason_code": code.value, "reason_text": f"Reason for {to.value} given."}
    if to == S.COMPLETED:
        return {"outcome": "service_started"}
    return {}


CANCEL = {"reason_code": "no_longer_needed", "reason_text": "Family moved away."}


def actor(rw: ReferralWorld, side: Side) -> Actor:
    return rw.lead if side == Side.REFERRER else rw.provider


async def drive(
    client: httpx.AsyncClient, rw: ReferralWorld, state: Status, held: Status | None = None
) -> dict[str, Any]:
    """A fresh referral moved into ``state`` through the API by each move's owner."""
    ref = await create(client, rw)
    for to in route(state, held):
        side = MOVES[(S(ref["status"]), to)]
        ref = await moved(client, actor(rw, side), ref, to.value, **extra_for(to))
    return ref


async def read(client: httpx.AsyncClient, who: Actor, rid: str) -> dict[str, Any]:
    r = await client.get(f"{API}/referrals/{rid}", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


LEGAL = [
    pytest.param(state, held, to, id=f"{label(state, held)}->{to.value}")
    for state, held in WHERE
    for to in legal(state, held)
]


@pytest.mark.parametrize(("state", "held", "to"), LEGAL)
async def test_legal_move_by_its_owner_is_accepted(
    client: httpx.AsyncClient, rw: ReferralWorld, state: Status, held: Status | None, to: Status
) -> None:
    ref = await drive(client, rw, state, held)
    before = await read(client, rw.lead, ref["id"])
    assert before["status"] == state and before["held_from"] == held
    side = legal(state, held)[to]
    who = actor(rw, side)
    r = await move(client, who, before, to.value, **extra_for(to))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == to
    assert body["version"] > before["version"]
    assert r.headers["etag"] == f'"{body["version"]}"'
    held_after = state if to == S.ON_HOLD else None
    assert sorted(body["allowed_transitions"]) == own(to, held_after, side)
    after = await read(client, rw.lead, ref["id"])
    assert after["status"] == to and after["held_from"] == held_after
    assert len(after["history"]) == len(before["history"]) + 1
    event = after["history"][-1]
    assert (event["from_status"], event["to_status"], event["side"]) == (state, to, side)
    assert event["actor_organisation_id"] == str(who.org_id)
    expected = extra_for(to)  # reason or outcome, on the referral and on its event
    assert {k: after[k] for k in expected} == {k: event[k] for k in expected} == expected
    if to in NEEDS_REASON or to == S.COMPLETED:
        assert after["ended_at"] is not None and after["allowed_transitions"] == []
    else:
        assert after["ended_at"] is None
    if to == S.ACCEPTED:
        assert after["accepted_at"] is not None
    if to == S.REQUESTED:
        assert before["shared"] is None and before["sent_at"] is None
        assert after["shared"]["name"] == "Aino Äyräpää"
        assert after["sent_at"] is not None and after["response_due_at"] is not None
    if held is not None and to == held:  # back from hold: the hold's note goes with it
        assert after["reason_text"] is None and after["reason_code"] is None
        assert after["accepted_at"] == before["accepted_at"]


#: Written out from the brief (not derived from the table): (referrer, provider) moves.
EXPECTED_MOVES: dict[str, tuple[set[str], set[str] | None]] = {
    "draft": ({"requested", "cancelled"}, None),
    "requested": ({"cancelled"}, {"received"}),
    "received": ({"cancelled"}, {"accepted", "rejected", "on_hold"}),
    "accepted": ({"cancelled"}, {"in_progress", "failed", "on_hold"}),
    "in_progress": ({"cancelled"}, {"completed", "failed", "on_hold"}),
    "on_hold(received)": ({"cancelled"}, {"received"}),
    "on_hold(accepted)": ({"cancelled"}, {"accepted"}),
    "on_hold(in_progress)": ({"cancelled"}, {"in_progress"}),
    **{s: (set(), set()) for s in ("rejected", "completed", "failed", "cancelled")},
}


ILLEGAL = [
    pytest.param(state, held, side, id=f"{label(state, held)}-by-{side.value}")
    for state, held in WHERE
    for side in (Side.REFERRER, Side.PROVIDER)
    if not (state == S.DRAFT and side == Side.PROVIDER)  # a provider never sees a draft
]


@pytest.mark.parametrize(("state", "held", "side"), ILLEGAL)
async def test_every_other_move_is_refused_with_the_callers_moves(
    client: httpx.AsyncClient, rw: ReferralWorld, state: Status, held: Status | None, side: Side
) -> None:
    """Moves not in the table, and the other side's moves: 409, ``allowed`` lists the
    caller's own moves only, and the referral is unchanged on re-read."""
    ref = await drive(client, rw, state, held)
    who = actor(rw, side)
    mine = own(state, held, side)
    full_before = await read(client, rw.lead, ref["id"])
    seen_before = await read(client, who, ref["id"])
    assert sorted(seen_before["allowed_transitions"]) == mine
    assert set(mine) == EXPECTED_MOVES[label(state, held)][side == Side.PROVIDER]
    owners = legal(state, held)
    for to in Status:
        if to.value in mine:
            continue
        r = await move(client, who, seen_before, to.value, **extra_for(to))
        body = assert_problem(r, 409)
        assert body["type"].endswith("illegal-transition"), (to, body)
        assert sorted(body["allowed"]) == mine, (to, body)
        assert (body["from"], body["to"]) == (state, to)
        if to in owners:  # the other side's move: says whose it is
            assert owners[to] != side and owners[to].value in body["detail"], (to, body)
    assert await read(client, rw.lead, ref["id"]) == full_before
    assert await read(client, who, ref["id"]) == seen_before


async def test_provider_cannot_send_or_cancel_and_referrer_cannot_answer(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    async def refused(who: Actor, ref: dict[str, Any], to: str, allowed: list[str]) -> None:
        body = assert_problem(await move(client, who, ref, to, **extra_for(S(to))), 409)
        assert sorted(body["allowed"]) == allowed, (to, body)

    draft = await create(client, rw)
    # The provider cannot even see a draft, let alone send it.
    assert_problem(await move(client, rw.provider, draft, "requested"), 404)
    ref = await moved(client, rw.lead, draft, "requested")
    await refused(rw.provider, ref, "cancelled", ["received"])
    await refused(rw.lead, ref, "received", ["cancelled"])
    ref = await moved(client, rw.provider, ref, "received")
    for to in ("accepted", "rejected", "on_hold"):
        await refused(rw.lead, ref, to, ["cancelled"])
    await refused(rw.provider, ref, "cancelled", ["accepted", "on_hold", "rejected"])
    assert (await read(client, rw.lead, ref["id"]))["status"] == "received"


REASON = "Explained in the phone call."
#: Bodies that must be refused (422) from a state, by the side that owns the move.
BAD_BODIES: dict[Status, list[tuple[str, dict[str, str]]]] = {
    S.REQUESTED: [
        ("cancelled", {"reason_text": REASON}),
        ("cancelled", {"reason_code": "no_longer_needed"}),
        ("cancelled", {"reason_code": "no_capacity", "reason_text": REASON}),
        ("cancelled", {"reason_code": "expired", "reason_text": REASON}),
        ("cancelled", {"reason_code": "other", "reason_text": REASON, "outcome": "other"}),
    ],
    S.RECEIVED: [
        ("rejected", {"reason_text": REASON}),
        ("rejected", {"reason_code": "not_eligible"}),
        ("rejected", {"reason_code": "no_contact", "reason_text": REASON}),
        ("rejected", {"reason_code": "expired", "reason_text": REASON}),
        ("rejected", {"reason_code": "not_eligible", "reason_text": "no"}),
        ("accepted", {"reason_code": "other"}),
        ("accepted", {"reason_text": REASON}),
        ("accepted", {"outcome": "service_started"}),
        ("on_hold", {"reason_code": "other", "reason_text": REASON}),
        ("on_hold", {"outcome": "service_started"}),
    ],
    S.ACCEPTED: [
        ("failed", {"reason_text": REASON}),
        ("failed", {"reason_code": "no_contact"}),
        ("failed", {"reason_code": "not_eligible", "reason_text": REASON}),
        ("failed", {"reason_code": "expired", "reason_text": REASON}),
        ("in_progress", {"outcome_text": "Started on Monday."}),
    ],
    S.IN_PROGRESS: [
        ("completed", {}),
        ("completed", {"outcome": "other"}),
        ("completed", {"outcome": "service_started", "reason_code": "other"}),
        ("completed", {"outcome": "cured"}),
        ("failed", {"reason_code": "no_contact", "reason_text": REASON, "outcome": "no_contact"}),
    ],
}


@pytest.mark.parametrize("state", [pytest.param(s, id=s.value) for s in BAD_BODIES])
async def test_moves_with_wrong_reason_or_outcome_are_422_and_change_nothing(
    client: httpx.AsyncClient, rw: ReferralWorld, state: Status
) -> None:
    ref = await drive(client, rw, state)
    full_before = await read(client, rw.lead, ref["id"])
    for to, extra in BAD_BODIES[state]:
        who = actor(rw, MOVES[(state, S(to))])
        r = await move(client, who, full_before, to, **extra)
        assert r.status_code == 422, (to, extra, r.text)
        assert_problem(r, 422)
    assert await read(client, rw.lead, ref["id"]) == full_before
    # The refusals were about the body: the same move with a proper one goes through.
    to = S(BAD_BODIES[state][0][0])
    await moved(client, actor(rw, MOVES[(state, to)]), full_before, to.value, **extra_for(to))


@pytest.mark.parametrize("held", [pytest.param(h, id=h.value) for h in Status if h in HOLDABLE])
async def test_on_hold_returns_exactly_where_it_was_held(
    client: httpx.AsyncClient, rw: ReferralWorld, held: Status
) -> None:
    ref = await drive(client, rw, held)
    before = await read(client, rw.lead, ref["id"])
    provider_before = await read(client, rw.provider, ref["id"])
    note = "Client in hospital for two weeks."
    ref = await moved(client, rw.provider, ref, "on_hold", reason_text=note)
    assert ref["allowed_transitions"] == [held.value]
    full = await read(client, rw.lead, ref["id"])
    assert (full["held_from"], full["reason_text"]) == (held, note)
    assert full["history"][-1]["reason_text"] == note
    for elsewhere in [*sorted(HOLDABLE - {held}), S.ON_HOLD]:
        body = assert_problem(await move(client, rw.provider, ref, elsewhere.value), 409)
        assert body["allowed"] == [held.value]
    assert await read(client, rw.lead, ref["id"]) == full
    ref = await moved(client, rw.provider, ref, held.value)
    after = await read(client, rw.lead, ref["id"])
    assert (after["status"], after["held_from"], after["reason_text"]) == (held, None, None)
    for key in ("accepted_at", "sent_at", "response_due_at", "ended_at", "shared"):
        assert after[key] == before[key], key
    assert [(e["from_status"], e["to_status"], e["side"]) for e in after["history"][-2:]] == [
        (held, "on_hold", "provider"),
        ("on_hold", held, "provider"),
    ]
    provider_after = await read(client, rw.provider, ref["id"])
    assert provider_after["allowed_transitions"] == provider_before["allowed_transitions"]


async def test_if_match_missing_is_428_and_stale_is_412(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    draft = await create(client, rw)
    ref = await moved(client, rw.lead, draft, "requested")
    before = await read(client, rw.lead, ref["id"])
    url = f"{API}/referrals/{ref['id']}/transitions"
    r = await client.post(url, json={"to": "received"}, headers=rw.provider.headers)
    assert assert_problem(r, 428)["type"].endswith("precondition-required")
    for stale in (f'"{ref["version"] - 1}"', '"banana"'):
        r = await client.post(
            url, json={"to": "received"}, headers={**rw.provider.headers, "If-Match": stale}
        )
        assert assert_problem(r, 412)["type"].endswith("precondition-failed")
    # The referrer's copy of the draft is stale once it was sent.
    assert_problem(await move(client, rw.lead, draft, "cancelled", **CANCEL), 412)
    assert await read(client, rw.lead, ref["id"]) == before
    await moved(client, rw.provider, ref, "received")


async def test_emergency_grant_reads_but_never_moves(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    draft = await create(client, rw)
    ref = await sent(client, rw)
    outsider = rw.world.outsider_police
    await add_grant(db, rw.case, outsider)
    await db.commit()
    for item in (draft, ref):
        full_before = await read(client, rw.lead, item["id"])
        seen = await read(client, outsider, item["id"])
        assert seen["status"] == item["status"] and seen["allowed_transitions"] == []
        assert seen["history"] == full_before["history"]
        for to in Status:
            r = await move(client, outsider, seen, to.value, **extra_for(to))
            assert_problem(r, 403)
        assert await read(client, rw.lead, item["id"]) == full_before
    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == outsider.id, AuditEvent.action == "referral.transition"
            )
        )
    ).all()
    assert len(denied) == 2 * len(Status)
    assert {(e.outcome, e.target_id) for e in denied} == {
        ("denied", draft["id"]),
        ("denied", ref["id"]),
    }


async def test_draft_cancelled_unsent_is_never_shown_to_the_provider(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    """Nothing was disclosed: the service must not learn the referral ever existed."""
    ref = await moved(client, rw.lead, await create(client, rw), "cancelled", **CANCEL)
    assert ref["sent_at"] is None and ref["shared"] is None
    for path in (f"{API}/referrals/", "/fhir/R4/ServiceRequest/", "/fhir/R4/Task/"):
        r = await client.get(f"{path}{ref['id']}", headers=rw.provider.headers)
        assert r.status_code == 404, (path, r.text)
    assert_problem(await move(client, rw.provider, ref, "received"), 404)
    inbox = await client.get(f"{API}/referrals", headers=rw.provider.headers)
    assert inbox.status_code == 200 and inbox.json()["items"] == []


ENDINGS = {
    "completed": (S.IN_PROGRESS, {"outcome": "other", "outcome_text": "Moved on to Tampere."}),
    "rejected": (S.RECEIVED, {"reason_code": "outside_area", "reason_text": "Lives elsewhere."}),
}


@pytest.mark.parametrize("to", list(ENDINGS))
async def test_outcome_and_reason_are_shown_to_both_sides(
    client: httpx.AsyncClient, rw: ReferralWorld, to: str
) -> None:
    state, extra = ENDINGS[to]
    ref = await moved(client, rw.provider, await drive(client, rw, state), to, **extra)
    shown = {k: None for k in ("outcome", "outcome_text", "reason_code", "reason_text")} | extra
    for who in (rw.lead, rw.provider):
        seen = await read(client, who, ref["id"])
        assert seen["status"] == to and seen["ended_at"] is not None
        assert {k: seen[k] for k in shown} == shown
        assert (seen["accepted_at"] is not None) == (to == "completed")
    event = (await read(client, rw.lead, ref["id"]))["history"][-1]
    assert (event["to_status"], event["side"]) == (to, "provider")
    assert {k: event[k] for k in ("outcome", "reason_code", "reason_text")} == {
        k: shown[k] for k in ("outcome", "reason_code", "reason_text")
    }

"""What referrals do to the rest of the case: a linked plan measure follows its referral,
and a case does not close while a referral is still open."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.plans.models import Measure
from app.referrals.states import CLOSED, OPEN
from tests.cases.factories import make_case
from tests.plans.factories import ensure_plan
from tests.problems import assert_problem
from tests.referrals.conftest import API, ReferralWorld, create, moved, referral_body

CANCEL = {"reason_code": "no_longer_needed", "reason_text": "She found a place herself."}
EXTRA: dict[str, dict[str, str]] = {
    "cancelled": CANCEL,
    "rejected": {"reason_code": "no_capacity", "reason_text": "No places before autumn."},
    "failed": {"reason_code": "no_contact", "reason_text": "No answer to five calls."},
    "completed": {"outcome": "service_started"},
}
SEND = ["requested", "received", "accepted"]
CLOSE = {"to": "closed", "outcome": "risk_reduced", "reason": "Risk reduced; plan done."}


async def walk(
    client: httpx.AsyncClient, rw: ReferralWorld, ref: dict[str, Any], steps: list[str]
) -> dict[str, Any]:
    """Move a referral along ``steps``: the lead sends and cancels, the provider answers."""
    for to in steps:
        who = rw.lead if to in ("requested", "cancelled") else rw.provider
        ref = await moved(client, who, ref, to, **EXTRA.get(to, {}))
    return ref


@pytest.fixture
async def measure(db: AsyncSession, rw: ReferralWorld) -> Measure:
    _plan, measure = await ensure_plan(db, rw.case)
    await db.commit()
    return measure


async def read_measure(
    client: httpx.AsyncClient, rw: ReferralWorld, measure_id: uuid.UUID
) -> dict[str, Any]:
    r = await client.get(f"{API}/cases/{rw.case.id}/plan/measures", headers=rw.lead.headers)
    assert r.status_code == 200, r.text
    [found] = [m for m in r.json() if m["id"] == str(measure_id)]
    return dict(found)


async def set_measure(
    client: httpx.AsyncClient, rw: ReferralWorld, measure_id: uuid.UUID, status: str, note: str
) -> None:
    current = await read_measure(client, rw, measure_id)
    r = await client.post(
        f"{API}/cases/{rw.case.id}/plan/measures/{measure_id}/status",
        json={"status": status, "outcome_note": note},
        headers={**rw.lead.headers, "If-Match": f'"{current["version"]}"'},
    )
    assert r.status_code == 200, r.text


async def measure_changes(db: AsyncSession, measure_id: uuid.UUID) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.target_type == "measure",
            AuditEvent.target_id == str(measure_id),
            AuditEvent.action.startswith("plan.measure.status."),
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return list(rows.all())


# --- a linked measure follows its referral ------------------------------------------

IN_PROGRESS = [*SEND, "in_progress"]
FOLLOWS = [  # (moves from draft, the measure's status after, its audited changes)
    (["requested"], "planned", []),
    (SEND, "planned", []),
    (["requested", "received", "on_hold"], "planned", []),
    (IN_PROGRESS, "in_progress", ["planned.in_progress"]),
    ([*IN_PROGRESS, "on_hold", "in_progress"], "in_progress", ["planned.in_progress"]),
    ([*IN_PROGRESS, "completed"], "done", ["planned.in_progress", "in_progress.done"]),
    (["requested", "received", "rejected"], "not_done", ["planned.not_done"]),
    ([*SEND, "failed"], "not_done", ["planned.not_done"]),
    ([*IN_PROGRESS, "failed"], "not_done", ["planned.in_progress", "in_progress.not_done"]),
    (["cancelled"], "planned", []),
    (["requested", "cancelled"], "planned", []),
    (["requested", "received", "on_hold", "cancelled"], "planned", []),
    ([*IN_PROGRESS, "cancelled"], "in_progress", ["planned.in_progress"]),
]


@pytest.mark.parametrize(
    ("steps", "status", "changes"),
    [pytest.param(*f, id="-".join(f[0])) for f in FOLLOWS],
)
async def test_linked_measure_follows_the_referral(
    client: httpx.AsyncClient,
    db: AsyncSession,
    rw: ReferralWorld,
    measure: Measure,
    steps: list[str],
    status: str,
    changes: list[str],
) -> None:
    ref = await create(client, rw, measure_id=str(measure.id))
    assert ref["measure_id"] == str(measure.id)
    ref = await walk(client, rw, ref, steps)
    assert (await read_measure(client, rw, measure.id))["status"] == status
    events = await measure_changes(db, measure.id)
    assert [e.action for e in events] == [f"plan.measure.status.{c}" for c in changes]
    for event in events:
        assert event.outcome == "allowed"
        assert event.actor_id == rw.provider.id
        assert f"referral {ref['id']}" in (event.purpose or "")


HAND = [  # (moves before the hand change, the hand status, the referral's later moves)
    (IN_PROGRESS, "done", ["failed"]),
    (IN_PROGRESS, "not_done", ["completed"]),
    (["requested"], "cancelled", ["received", "accepted", "in_progress", "completed"]),
    (SEND, "done", ["failed"]),
]


@pytest.mark.parametrize(
    ("before", "hand", "after"),
    [pytest.param(*h, id=f"{h[1]}-then-{h[2][-1]}") for h in HAND],
)
async def test_measure_settled_by_hand_is_not_overwritten(
    client: httpx.AsyncClient,
    db: AsyncSession,
    rw: ReferralWorld,
    measure: Measure,
    before: list[str],
    hand: str,
    after: list[str],
) -> None:
    ref = await walk(client, rw, await create(client, rw, measure_id=str(measure.id)), before)
    note = "Settled in the group meeting."
    await set_measure(client, rw, measure.id, hand, note)
    settled = await read_measure(client, rw, measure.id)
    changes = len(await measure_changes(db, measure.id))
    await walk(client, rw, ref, after)
    now = await read_measure(client, rw, measure.id)
    assert (now["status"], now["outcome_note"]) == (hand, note)
    assert now == settled
    assert len(await measure_changes(db, measure.id)) == changes


async def test_measure_of_another_case_or_unknown_is_422(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, measure: Measure
) -> None:
    other_case = await make_case(db, rw.world.marak, rw.lead, status="plan_active")
    _plan, foreign = await ensure_plan(db, other_case)
    await db.commit()
    url = f"{API}/cases/{rw.case.id}/referrals"
    for measure_id in (foreign.id, uuid.uuid4()):
        body = referral_body(rw, measure_id=str(measure_id))
        r = await client.post(url, json=body, headers=rw.lead.headers)
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]] == ["measure_id"]
    assert (await client.get(url, headers=rw.lead.headers)).json()["items"] == []
    # Nor can a draft be pointed at it later.
    draft = await create(client, rw, measure_id=str(measure.id))
    r = await client.patch(
        f"{API}/referrals/{draft['id']}",
        json={"measure_id": str(foreign.id)},
        headers={**rw.lead.headers, "If-Match": f'"{draft["version"]}"'},
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["measure_id"]
    r = await client.get(f"{API}/referrals/{draft['id']}", headers=rw.lead.headers)
    assert r.json()["measure_id"] == str(measure.id)
    assert r.json()["version"] == draft["version"]


async def test_settled_measure_cannot_be_linked(
    client: httpx.AsyncClient, rw: ReferralWorld, measure: Measure
) -> None:
    await set_measure(client, rw, measure.id, "done", "Shelter place reserved.")
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json=referral_body(rw, measure_id=str(measure.id)),
        headers=rw.lead.headers,
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["measure_id"]


# --- the closure gate ------------------------------------------------------------------


async def close(client: httpx.AsyncClient, rw: ReferralWorld) -> httpx.Response:
    case = await client.get(f"{API}/cases/{rw.case.id}", headers=rw.lead.headers)
    assert case.status_code == 200, case.text
    return await client.post(
        f"{API}/cases/{rw.case.id}/transitions",
        json=CLOSE,
        headers={**rw.lead.headers, "If-Match": case.headers["etag"]},
    )


async def gated(client: httpx.AsyncClient, rw: ReferralWorld) -> list[str]:
    """Closing is refused: the failing gates' names; the case is still open."""
    body = assert_problem(await close(client, rw), 422)
    assert body["type"].endswith("transition-gated")
    case = await client.get(f"{API}/cases/{rw.case.id}", headers=rw.lead.headers)
    assert case.json()["status"] == "plan_active"
    return [g["gate"] for g in body["gates"]]


async def closes(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await close(client, rw)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    r = await client.get(f"{API}/cases/{rw.case.id}/transitions", headers=rw.lead.headers)
    assert "referrals_settled" in r.json()[-1]["gates"]


TO_OPEN = {
    "draft": [],
    "requested": ["requested"],
    "received": ["requested", "received"],
    "accepted": SEND,
    "in_progress": IN_PROGRESS,
    "on_hold": [*IN_PROGRESS, "on_hold"],
}
TO_CLOSED = {
    "completed": [*IN_PROGRESS, "completed"],
    "rejected": ["requested", "received", "rejected"],
    "failed": [*SEND, "failed"],
    "cancelled": ["requested", "cancelled"],
}
assert set(TO_OPEN) == set(OPEN) and set(TO_CLOSED) == set(CLOSED)


@pytest.mark.parametrize("state", list(TO_OPEN))
async def test_open_referral_blocks_closing_until_cancelled(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, state: str
) -> None:
    ref = await walk(client, rw, await create(client, rw), TO_OPEN[state])
    assert ref["status"] == state
    assert await gated(client, rw) == ["referrals_settled"]
    denial = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "case.transition",
            AuditEvent.target_id == str(rw.case.id),
            AuditEvent.outcome == "denied",
        )
    )
    assert denial is not None and "referrals_settled" in (denial.reason or "")
    await moved(client, rw.lead, ref, "cancelled", **CANCEL)
    await closes(client, rw)
    # A closed case takes no new referrals.
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals", json=referral_body(rw), headers=rw.lead.headers
    )
    assert_problem(r, 409)


@pytest.mark.parametrize("state", list(TO_CLOSED))
async def test_settled_referral_does_not_block_closing(
    client: httpx.AsyncClient, rw: ReferralWorld, state: str
) -> None:
    ref = await walk(client, rw, await create(client, rw), TO_CLOSED[state])
    assert ref["status"] == state
    await closes(client, rw)


async def test_every_open_referral_blocks_closing(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    done = await walk(client, rw, await create(client, rw), TO_CLOSED["completed"])
    draft = await create(client, rw)
    held = await walk(client, rw, await create(client, rw), TO_OPEN["on_hold"])
    body = assert_problem(await close(client, rw), 422)
    [gate] = body["gates"]
    assert gate["gate"] == "referrals_settled" and "2 referral" in gate["detail"]
    await moved(client, rw.lead, draft, "cancelled", **CANCEL)
    assert await gated(client, rw) == ["referrals_settled"]
    held = await moved(client, rw.provider, held, "in_progress")
    await moved(client, rw.provider, held, "completed", outcome="completed_programme")
    await closes(client, rw)
    assert done["status"] == "completed"


async def test_completing_a_linked_referral_settles_both_gates(
    client: httpx.AsyncClient, rw: ReferralWorld, measure: Measure
) -> None:
    ref = await walk(client, rw, await create(client, rw, measure_id=str(measure.id)), IN_PROGRESS)
    assert sorted(await gated(client, rw)) == ["open_measures_settled", "referrals_settled"]
    await moved(client, rw.provider, ref, "completed", outcome="service_started")
    assert (await read_measure(client, rw, measure.id))["status"] == "done"
    await closes(client, rw)


async def test_cancelling_a_linked_referral_leaves_the_measure_to_settle(
    client: httpx.AsyncClient, rw: ReferralWorld, measure: Measure
) -> None:
    ref = await walk(client, rw, await create(client, rw, measure_id=str(measure.id)), SEND)
    assert sorted(await gated(client, rw)) == ["open_measures_settled", "referrals_settled"]
    await moved(client, rw.lead, ref, "cancelled", **CANCEL)
    assert await gated(client, rw) == ["open_measures_settled"]
    await set_measure(client, rw, measure.id, "cancelled", "Referral cancelled: she moved.")
    await closes(client, rw)

"""Referral deadlines: overdue after the service's target, expiry by the sweep, /me/tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import CaseMember
from app.plans.models import Measure
from app.platform.clock import clock
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import utcnow
from app.referrals.followup import sweep_once
from app.referrals.transitions import expire_due
from tests.plans.factories import ensure_plan
from tests.problems import assert_problem
from tests.referrals.conftest import API, ReferralWorld, add_service, create, moved, sent
from tests.world import Actor

At = Callable[..., datetime]
CANCEL = {"reason_code": "no_longer_needed", "reason_text": "Found help elsewhere."}
REJECT = {"reason_code": "no_capacity", "reason_text": "Full until the autumn."}


@pytest.fixture
def at() -> Iterator[At]:
    """``at(days, seconds=0)``: freeze the app clock that long after the test's start.

    The start lies a little after the real now, so consents recorded with the real
    time are already in force. Moving time is re-freezing; the finalizer unfreezes.
    """
    start = (utcnow() + timedelta(hours=1)).replace(microsecond=0)

    def move(days: float = 0, seconds: float = 0) -> datetime:
        when = start + timedelta(days=days, seconds=seconds)
        clock.freeze(when)
        return when

    move()
    yield move
    clock.unfreeze()


@pytest.fixture
def settings_with(app: Any) -> Iterator[Callable[..., None]]:
    """Change the app's settings for one test (restored afterwards)."""
    before = app.state.settings

    def update(**changes: Any) -> None:
        app.state.settings = before.model_copy(update=changes)

    yield update
    app.state.settings = before


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def view(client: httpx.AsyncClient, actor: Actor, ref: dict[str, Any]) -> dict[str, Any]:
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def tasks(
    client: httpx.AsyncClient, actor: Actor, ref: dict[str, Any], kind: str | None = None
) -> list[dict[str, Any]]:
    """The caller's /me/tasks entries about this referral (of one kind, if given)."""
    r = await client.get(f"{API}/me/tasks", headers=actor.headers)
    assert r.status_code == 200, r.text
    return [
        t for t in r.json() if t["target_id"] == ref["id"] and (kind is None or t["kind"] == kind)
    ]


async def overdue_ids(client: httpx.AsyncClient, actor: Actor) -> set[str]:
    r = await client.get(f"{API}/referrals?box=outbox&overdue=true", headers=actor.headers)
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


async def acknowledge(
    client: httpx.AsyncClient, actor: Actor, ref: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"{API}/referrals/{ref['id']}/acknowledge-expiry",
        headers={**actor.headers, "If-Match": f'"{ref["version"]}"'},
    )


# --- overdue --------------------------------------------------------------------------


async def test_overdue_only_after_the_service_target(
    client: httpx.AsyncClient, rw: ReferralWorld, at: At
) -> None:
    start = at(0)
    ref = await sent(client, rw)
    assert ts(ref["response_due_at"]) == start + timedelta(days=14)
    assert ref["overdue"] is False

    at(13)
    assert (await view(client, rw.lead, ref))["overdue"] is False
    assert (await view(client, rw.provider, ref))["overdue"] is False
    assert await tasks(client, rw.lead, ref, "referral_overdue") == []
    assert ref["id"] not in await overdue_ids(client, rw.lead)

    at(15)
    assert (await view(client, rw.lead, ref))["overdue"] is True
    assert (await view(client, rw.provider, ref))["overdue"] is True
    assert ref["id"] in await overdue_ids(client, rw.lead)
    [task] = await tasks(client, rw.lead, ref)
    assert task["kind"] == "referral_overdue"
    assert task["target_type"] == "referral"
    assert task["case_id"] == str(rw.case.id)
    assert task["case_reference"] == rw.case.reference
    assert ts(task["due_at"]) == ts(ref["response_due_at"])
    assert task["overdue"] is True


async def test_service_without_target_uses_the_default_days(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, at: At
) -> None:
    untimed = await add_service(db, rw.provider_org, target_days=None)
    await db.commit()
    start = at(0)
    ref = await sent(client, rw, service_id=str(untimed.id))
    assert ts(ref["response_due_at"]) == start + timedelta(days=14)
    at(14)  # due exactly now: not yet past it
    assert (await view(client, rw.lead, ref))["overdue"] is False
    assert await tasks(client, rw.lead, ref, "referral_overdue") == []
    at(14, seconds=1)
    assert (await view(client, rw.lead, ref))["overdue"] is True
    assert len(await tasks(client, rw.lead, ref, "referral_overdue")) == 1


async def test_default_days_come_from_the_settings(
    client: httpx.AsyncClient,
    db: AsyncSession,
    rw: ReferralWorld,
    at: At,
    settings_with: Callable[..., None],
) -> None:
    untimed = await add_service(db, rw.provider_org, target_days=None)
    await db.commit()
    settings_with(referral_default_response_days=5)
    start = at(0)
    ref = await sent(client, rw, service_id=str(untimed.id))
    assert ts(ref["response_due_at"]) == start + timedelta(days=5)
    at(6)
    assert (await view(client, rw.lead, ref))["overdue"] is True


async def test_zero_day_target_is_overdue_a_second_after_sending(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, at: At
) -> None:
    same_day = await add_service(db, rw.provider_org, target_days=0)
    await db.commit()
    start = at(0)
    ref = await sent(client, rw, service_id=str(same_day.id))
    assert ts(ref["response_due_at"]) == start
    assert ref["overdue"] is False
    at(0, seconds=1)
    assert (await view(client, rw.lead, ref))["overdue"] is True
    [task] = await tasks(client, rw.lead, ref)
    assert task["kind"] == "referral_overdue"


@pytest.mark.parametrize("answer", ["accepted", "on_hold", "rejected", "cancelled"])
async def test_an_answer_clears_the_overdue_marker_and_task(
    client: httpx.AsyncClient, rw: ReferralWorld, at: At, answer: str
) -> None:
    at(0)
    ref = await sent(client, rw)
    at(15)
    assert (await view(client, rw.lead, ref))["overdue"] is True
    assert len(await tasks(client, rw.lead, ref, "referral_overdue")) == 1
    if answer == "cancelled":
        ref = await moved(client, rw.lead, ref, "cancelled", **CANCEL)
    else:
        ref = await moved(client, rw.provider, ref, "received")
        extra = REJECT if answer == "rejected" else {}
        ref = await moved(client, rw.provider, ref, answer, **extra)
    assert ref["overdue"] is False
    for actor in (rw.lead, rw.provider):
        assert (await view(client, actor, ref))["overdue"] is False
    assert await tasks(client, rw.lead, ref) == []
    assert await tasks(client, rw.provider, ref) == []
    assert ref["id"] not in await overdue_ids(client, rw.lead)


async def test_no_overdue_marker_in_a_closed_case(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, at: At
) -> None:
    at(0)
    ref = await sent(client, rw)
    at(15)
    assert (await view(client, rw.lead, ref))["overdue"] is True
    # Closing through the API is gated on open referrals (referrals_settled), so a
    # closed case with a still-unanswered referral can only be arranged in the db.
    rw.case.status = "closed"
    await db.commit()
    assert (await view(client, rw.lead, ref))["overdue"] is False
    assert (await view(client, rw.provider, ref))["overdue"] is False
    assert await tasks(client, rw.lead, ref) == []
    assert ref["id"] not in await overdue_ids(client, rw.lead)
    assert await tasks(client, rw.provider, ref) == []  # nothing from a closed case


async def test_only_the_referrer_still_in_the_case_sees_the_overdue_task(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, at: At
) -> None:
    at(0)
    ref = await moved(client, rw.member, await create(client, rw, actor=rw.member), "requested")
    at(15)
    assert len(await tasks(client, rw.member, ref, "referral_overdue")) == 1
    for other in (rw.lead, rw.world.advocate):
        assert await tasks(client, other, ref) == []
    membership = await db.scalar(
        select(CaseMember).where(
            CaseMember.case_id == rw.case.id, CaseMember.user_id == rw.member.id
        )
    )
    assert membership is not None
    membership.removed_at = utcnow()
    membership.removed_by = rw.lead.id
    await db.commit()
    assert await tasks(client, rw.member, ref) == []
    assert await tasks(client, rw.lead, ref) == []


async def test_the_provider_is_asked_to_answer_its_own_referrals(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, at: At
) -> None:
    at(0)
    draft = await create(client, rw)
    ref = await sent(client, rw)
    theirs = await sent(client, rw, service_id=str(rw.other_service.id))
    [task] = await tasks(client, rw.provider, ref)
    assert task["kind"] == "referral_to_answer"
    assert task["target_type"] == "referral"
    assert task["case_id"] is None and task["case_reference"] is None
    assert ts(task["due_at"]) == ts(ref["response_due_at"])
    assert task["overdue"] is False
    assert await tasks(client, rw.provider, draft) == []
    assert await tasks(client, rw.provider, theirs) == []
    assert await tasks(client, rw.other_provider, ref) == []
    [other_task] = await tasks(client, rw.other_provider, theirs)
    assert other_task["kind"] == "referral_to_answer" and other_task["case_id"] is None
    # The referrer's own task list carries no "to answer" entries.
    assert await tasks(client, rw.lead, ref, "referral_to_answer") == []

    ref = await moved(client, rw.provider, ref, "received")
    [task] = await tasks(client, rw.provider, ref)
    assert task["kind"] == "referral_to_answer"
    at(15)
    [task] = await tasks(client, rw.provider, ref)
    assert task["overdue"] is True
    ref = await moved(client, rw.provider, ref, "accepted")
    assert await tasks(client, rw.provider, ref) == []


# --- expiry ---------------------------------------------------------------------------


async def test_the_sweep_expires_unanswered_referrals_only(
    client: httpx.AsyncClient, app: Any, rw: ReferralWorld, at: At
) -> None:
    start = at(0)
    requested = await sent(client, rw)
    received = await moved(client, rw.provider, await sent(client, rw), "received")
    answered: dict[str, dict[str, Any]] = {}
    for state, path in (
        ("accepted", ["received", "accepted"]),
        ("in_progress", ["received", "accepted", "in_progress"]),
        ("on_hold", ["received", "on_hold"]),
    ):
        ref = await sent(client, rw)
        for to in path:
            ref = await moved(client, rw.provider, ref, to)
        answered[state] = ref
    answered["draft"] = await create(client, rw)
    assert ts(requested["expires_at"]) == start + timedelta(days=30)

    at(30, seconds=-1)
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 0
    assert (await view(client, rw.lead, requested))["status"] == "requested"
    assert (await view(client, rw.lead, received))["status"] == "received"

    now = at(30)
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 2
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 0  # idempotent
    for before, ref in (("requested", requested), ("received", received)):
        got = await view(client, rw.lead, ref)
        assert got["status"] == "failed"
        assert got["reason_code"] == "expired"
        assert got["reason_text"]
        assert ts(got["ended_at"]) == now
        assert got["overdue"] is False
        last = got["history"][-1]
        assert (last["from_status"], last["to_status"]) == (before, "failed")
        assert last["side"] == "system"
        assert last["reason_code"] == "expired"
        assert last["actor_name"] is None
        [task] = await tasks(client, rw.lead, ref)
        assert task["kind"] == "referral_expired"
        assert task["case_id"] == str(rw.case.id)
        assert ts(task["due_at"]) == now
        assert await tasks(client, rw.provider, ref) == []
    for state, ref in answered.items():
        got = await view(client, rw.lead, ref)
        assert got["status"] == state
        assert got["version"] == ref["version"]
        assert got["reason_code"] is None


async def test_acknowledging_an_expiry_clears_its_task(
    client: httpx.AsyncClient, app: Any, rw: ReferralWorld, at: At
) -> None:
    at(0)
    first, second = await sent(client, rw), await sent(client, rw)
    live = await moved(client, rw.provider, await sent(client, rw), "received")
    live = await moved(client, rw.provider, live, "accepted")
    at(31)
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 2
    first = await view(client, rw.lead, first)
    r = await client.post(
        f"{API}/referrals/{first['id']}/acknowledge-expiry", headers=rw.lead.headers
    )
    assert_problem(r, 428)
    stale = await acknowledge(client, rw.lead, first | {"version": first["version"] - 1})
    assert_problem(stale, 412)
    r = await acknowledge(client, rw.lead, first)
    assert r.status_code == 200, r.text
    assert r.json()["expiry_acknowledged_at"] is not None
    assert r.json()["status"] == "failed"
    assert await tasks(client, rw.lead, first) == []
    assert [t["kind"] for t in await tasks(client, rw.lead, second)] == ["referral_expired"]
    assert_problem(await acknowledge(client, rw.lead, live), 409)
    # Failed by the provider (not expired): nothing to acknowledge either.
    live = await moved(
        client, rw.provider, live, "failed", reason_code="no_contact", reason_text="No answer."
    )
    assert_problem(await acknowledge(client, rw.lead, live), 409)


async def test_expiry_settles_a_linked_measure(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, at: At, settings: Settings
) -> None:
    _plan, measure = await ensure_plan(db, rw.case, rw.lead)
    await db.commit()
    at(0)
    ref = await sent(client, rw, measure_id=str(measure.id))
    now = at(30)
    assert await expire_due(db, load_keyring(settings), now) == 1
    await db.commit()
    assert await expire_due(db, load_keyring(settings), now) == 0
    await db.commit()
    status = await db.scalar(select(Measure.status).where(Measure.id == measure.id))
    assert status == "not_done"
    assert (await view(client, rw.lead, ref))["reason_code"] == "expired"


async def test_expiry_follows_the_setting_but_never_precedes_the_target(
    client: httpx.AsyncClient,
    app: Any,
    db: AsyncSession,
    rw: ReferralWorld,
    at: At,
    settings_with: Callable[..., None],
) -> None:
    slow = await add_service(db, rw.provider_org, target_days=40)
    await db.commit()
    start = at(0)
    long_wait = await sent(client, rw, service_id=str(slow.id))
    assert ts(long_wait["expires_at"]) == start + timedelta(days=40)
    settings_with(referral_expiry_days=20)
    short_wait = await sent(client, rw)
    assert ts(short_wait["expires_at"]) == start + timedelta(days=20)
    at(20)
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 1
    assert (await view(client, rw.lead, short_wait))["status"] == "failed"
    at(39)
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 0
    assert (await view(client, rw.lead, long_wait))["status"] == "requested"
    at(40)
    assert await sweep_once(app.state.db, app.state.keyring.get()) == 1
    got = await view(client, rw.lead, long_wait)
    assert (got["status"], got["reason_code"]) == ("failed", "expired")

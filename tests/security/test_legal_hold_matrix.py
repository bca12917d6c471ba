"""Legal holds: every route, every role. Only the data-protection auditor (the roles
POLICY allows) places, reads and lifts holds; everyone else gets 403, audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from app.retention.models import LegalHold
from tests.cases.factories import make_case
from tests.problems import assert_problem
from tests.world import World, allowed, denied

API = "/api/v1/legal-holds"


async def _hold(db: AsyncSession, world: World) -> LegalHold:
    case = await make_case(db, world.hah, world.police)
    hold = LegalHold(
        target_type="case",
        target_id=case.id,
        ground="litigation",
        reference="R 7/2026",
        placed_by=world.auditor.id,
    )
    db.add(hold)
    await db.commit()
    return hold


def _requests(hold: LegalHold) -> dict[Action, Callable[[], tuple[str, str, dict[str, Any]]]]:
    return {
        Action.LEGAL_HOLD_PLACE: lambda: (
            "POST",
            API,
            {
                "json": {
                    "target_type": "case",
                    "target_id": str(hold.target_id),
                    "ground": "other",
                    "reference": "X 1/26",
                }
            },
        ),
        Action.LEGAL_HOLD_READ: lambda: ("GET", f"{API}/{hold.id}", {}),
        Action.LEGAL_HOLD_LIFT: lambda: (
            "POST",
            f"{API}/{hold.id}/lift",
            {"json": {"ground": "placed_in_error"}, "headers": {"If-Match": f'"{hold.version}"'}},
        ),
    }


ACTIONS = [Action.LEGAL_HOLD_PLACE, Action.LEGAL_HOLD_READ, Action.LEGAL_HOLD_LIFT]


@pytest.mark.parametrize(("action", "role"), [(a, r) for a in ACTIONS for r in allowed(a)], ids=str)
async def test_allowed(
    action: Action,
    role: str,
    client: httpx.AsyncClient,
    db: AsyncSession,
    world: World,
    make_actor: Any,
) -> None:
    hold = await _hold(db, world)
    actor = await make_actor(role)
    method, url, extra = _requests(hold)[action]()
    headers = {**actor.headers, **extra.pop("headers", {})}
    response = await client.request(method, url, headers=headers, **extra)
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize(("action", "role"), [(a, r) for a in ACTIONS for r in denied(a)], ids=str)
async def test_denied(
    action: Action,
    role: str,
    client: httpx.AsyncClient,
    db: AsyncSession,
    world: World,
    make_actor: Any,
) -> None:
    hold = await _hold(db, world)
    actor = await make_actor(role)
    method, url, extra = _requests(hold)[action]()
    headers = {**actor.headers, **extra.pop("headers", {})}
    response = await client.request(method, url, headers=headers, **extra)
    assert_problem(response, 403)
    row = await db.scalar(
        select(AuditEvent).where(AuditEvent.actor_id == actor.id, AuditEvent.action == action)
    )
    assert row is not None and row.outcome == "denied"
    lifted = await db.scalar(select(LegalHold.lifted_at).where(LegalHold.id == hold.id))
    assert lifted is None


async def test_the_list_is_the_auditors(
    client: httpx.AsyncClient, db: AsyncSession, world: World, make_actor: Any
) -> None:
    await _hold(db, world)
    for role in allowed(Action.LEGAL_HOLD_READ):
        actor = await make_actor(role)
        assert (await client.get(API, headers=actor.headers)).status_code == 200
    for role in denied(Action.LEGAL_HOLD_READ):
        actor = await make_actor(role)
        assert_problem(await client.get(API, headers=actor.headers), 403)


async def test_a_target_that_does_not_exist_is_404(client: httpx.AsyncClient, world: World) -> None:
    for kind in ("case", "person"):
        body = {
            "target_type": kind,
            "target_id": str(uuid.uuid4()),
            "ground": "other",
            "reference": "R 1/26",
        }
        assert_problem(await client.post(API, json=body, headers=world.auditor.headers), 404)
    assert_problem(await client.get(f"{API}/{uuid.uuid4()}", headers=world.auditor.headers), 404)

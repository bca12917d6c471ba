"""Closing a case: every measure of its plan is settled or cancelled with a reason."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.plans.factories import api_measure, api_plan, marak_case
from tests.world import World

CLOSE = {"to": "closed", "outcome": "risk_reduced", "reason": "Risk reduced; plan done."}


async def close(client: httpx.AsyncClient, actor: object, cid: object) -> httpx.Response:
    case = await client.get(f"/api/v1/cases/{cid}", headers=actor.headers)  # type: ignore[attr-defined]
    return await client.post(
        f"/api/v1/cases/{cid}/transitions",
        json=CLOSE,
        headers={**actor.headers, "If-Match": case.headers["etag"]},  # type: ignore[attr-defined]
    )


async def test_open_measures_block_closing(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    mc = await marak_case(db, world, status="monitoring")
    cid = mc.case.id
    await api_plan(client, world.police, cid)
    done = await api_measure(client, world.police, cid, world.org.id)
    dropped = await api_measure(client, world.police, cid, world.org.id, description="Other.")
    r = await close(client, world.police, cid)
    assert r.status_code == 422
    assert [g["gate"] for g in r.json()["gates"]] == ["open_measures_settled"]
    r = await client.post(
        f"/api/v1/cases/{cid}/plan/measures/{done['id']}/status",
        json={"status": "done", "outcome_note": "Placed."},
        headers={**world.police.headers, "If-Match": done["etag"]},
    )
    assert r.status_code == 200
    assert (await close(client, world.police, cid)).status_code == 422
    r = await client.post(
        f"/api/v1/cases/{cid}/plan/measures/{dropped['id']}/status",
        json={"status": "cancelled", "outcome_note": "No longer needed: she moved."},
        headers={**world.police.headers, "If-Match": dropped["etag"]},
    )
    assert r.status_code == 200
    r = await close(client, world.police, cid)
    assert r.status_code == 200, r.text
    assert (
        "open_measures_settled"
        in (
            await client.get(f"/api/v1/cases/{cid}/transitions", headers=world.police.headers)
        ).json()[-1]["gates"]
    )


async def test_a_case_without_a_plan_closes(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    mc = await marak_case(db, world, status="monitoring")
    assert (await close(client, world.police, mc.case.id)).status_code == 200

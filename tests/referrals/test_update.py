"""Changing a draft referral (If-Match, what may change, refusals that change nothing)
and replaying its creation under an Idempotency-Key."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.persons.factories import add_consent
from tests.problems import assert_problem
from tests.referrals.conftest import API, ReferralWorld, case_referrals, create, move, referral_body


async def test_patch_changes_a_draft_only(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    draft = await create(client, rw)
    url = f"{API}/referrals/{draft['id']}"
    change = {"reason": "Agreed again with the victim.", "urgency": "asap"}
    assert_problem(await client.patch(url, json=change, headers=rw.lead.headers), 428)
    stale = {**rw.lead.headers, "If-Match": f'"{draft["version"] + 1}"'}
    assert_problem(await client.patch(url, json=change, headers=stale), 412)
    if_match = {**rw.lead.headers, "If-Match": f'"{draft["version"]}"'}
    assert_problem(await client.patch(url, json={"status": "requested"}, headers=if_match), 422)
    r = await client.patch(
        url, json={**change, "shared_fields": ["name", "birth_date"]}, headers=if_match
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["reason"], changed["urgency"]) == (change["reason"], "asap")
    assert (changed["shared_fields"], changed["status"]) == (["name", "birth_date"], "draft")
    assert changed["version"] == draft["version"] + 1
    assert r.headers["etag"] == f'"{changed["version"]}"'
    ref = await move(client, rw.lead, changed, "requested")
    assert ref.status_code == 200, ref.text
    sent_now = ref.json()
    r = await client.patch(
        url,
        json={"reason": "Too late to change."},
        headers={**rw.lead.headers, "If-Match": f'"{sent_now["version"]}"'},
    )
    assert_problem(r, 409)
    after = (await client.get(url, headers=rw.lead.headers)).json()
    assert (after["reason"], after["version"]) == (change["reason"], sent_now["version"])


@pytest.mark.parametrize(
    "change",
    [
        {"basis_id": "other_scope"},
        {"basis_id": None},
        {"shared_fields": None},
        {"shared_fields": []},
        {"reason": None},
        {"measure_id": "unknown"},
        {"provider_organisation_id": "unknown"},
    ],
    ids=str,
)
async def test_patch_refusals_change_nothing(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, change: dict[str, Any]
) -> None:
    other_scope = await add_consent(db, rw.victim.id, rw.lead, "marak_sharing")
    await db.commit()
    names = {"other_scope": str(other_scope.id), "unknown": str(uuid.uuid4())}
    draft = await create(client, rw)
    r = await client.patch(
        f"{API}/referrals/{draft['id']}",
        json={k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()},
        headers={**rw.lead.headers, "If-Match": f'"{draft["version"]}"'},
    )
    problem = assert_problem(r, 422)
    if change == {"basis_id": "other_scope"}:
        assert problem["errors"][0]["field"] == "basis_id"
    now = (await client.get(f"{API}/referrals/{draft['id']}", headers=rw.lead.headers)).json()
    kept = ("version", "basis_id", "shared_fields", "reason", "measure_id", "status")
    assert [now[k] for k in kept] == [draft[k] for k in kept]


async def test_idempotency_key_replays_the_same_referral(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    headers = {**rw.lead.headers, "Idempotency-Key": f"referral-{uuid.uuid4().hex}"}
    url = f"{API}/cases/{rw.case.id}/referrals"
    first = await client.post(url, json=referral_body(rw), headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(url, json=referral_body(rw), headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert [i["id"] for i in await case_referrals(client, rw)] == [first.json()["id"]]

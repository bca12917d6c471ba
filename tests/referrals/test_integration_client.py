"""A provider's system, end to end, with the coarse scopes of its client-credential token."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.problems import assert_problem
from tests.referrals.conftest import API, ReferralWorld, sent
from tests.world import Actor, TokenFactory, make_user


async def system_of(
    db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld, scope: str
) -> dict[str, str]:
    """The provider organisation's integration client, holding ``scope``."""
    actor: Actor = await make_user(db, tokens, rw.provider_org, "integration")
    await db.commit()
    token = tokens.mint(actor.sub, ["integration"], rw.provider_org.code, scope=scope)
    return {"Authorization": f"Bearer {token}"}


def concern_body(rw: ReferralWorld) -> dict[str, Any]:
    return {
        "team_id": str(rw.world.marak.id),
        "subject": {"given_name": "Henri", "family_name": "Huoli", "birth_date": "1995-01-09"},
        "description": "A neighbour heard threats through the wall, twice this week.",
        "legal_basis": "threat_to_life_or_health_notification",
        "urgency": "urgent",
    }


async def test_with_referrals_read_it_lists_its_organisations_inbox(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld
) -> None:
    referral = await sent(client, rw)
    headers = await system_of(db, tokens, rw, "referrals:read")
    r = await client.get(f"{API}/referrals", params={"box": "inbox"}, headers=headers)
    assert r.status_code == 200, r.text
    assert [item["id"] for item in r.json()["items"]] == [referral["id"]]
    one = await client.get(f"{API}/referrals/{referral['id']}", headers=headers)
    assert one.status_code == 200, one.text
    # Reading is not answering: acknowledging takes referrals:write.
    answer = await client.post(
        f"{API}/referrals/{referral['id']}/transitions",
        json={"to": "received"},
        headers={**headers, "If-Match": f'"{referral["version"]}"'},
    )
    assert_problem(answer, 403)


async def test_with_referrals_write_it_answers(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld
) -> None:
    referral = await sent(client, rw)
    headers = await system_of(db, tokens, rw, "referrals:read referrals:write")
    r = await client.post(
        f"{API}/referrals/{referral['id']}/transitions",
        json={"to": "received"},
        headers={**headers, "If-Match": f'"{referral["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "received"


async def test_with_only_concerns_write_it_submits_but_reads_no_referral(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld
) -> None:
    referral = await sent(client, rw)
    headers = await system_of(db, tokens, rw, "concerns:write")
    r = await client.post(f"{API}/concerns", json=concern_body(rw), headers=headers)
    assert r.status_code == 201, r.text
    mine = await client.get(f"{API}/concerns", params={"box": "submitted"}, headers=headers)
    assert mine.status_code == 200, mine.text
    assert [c["id"] for c in mine.json()["items"]] == [r.json()["id"]]
    assert_problem(await client.get(f"{API}/referrals", headers=headers), 403)
    assert_problem(await client.get(f"{API}/referrals/{referral['id']}", headers=headers), 403)
    assert_problem(await client.get(f"{API}/services", headers=headers), 403)


async def test_a_police_token_with_every_scope_is_still_only_police(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld
) -> None:
    referral = await sent(client, rw)
    police = await make_user(db, tokens, rw.provider_org, "police")
    await db.commit()
    token = tokens.mint(
        police.sub, ["police"], rw.provider_org.code, scope="referrals:read referrals:write"
    )
    headers = {"Authorization": f"Bearer {token}"}
    # Police in the receiving organisation: no inbox, and the referral stays invisible.
    assert_problem(await client.get(f"{API}/referrals/{referral['id']}", headers=headers), 404)

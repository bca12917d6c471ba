"""A referral of a shredded case (app/casekeys): what was shared reads as null
(its data key is gone), and the provider's inbox and the FHIR view still answer."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.service import shred_case_key
from tests.referrals.conftest import API, ReferralWorld, sent


async def test_what_was_shared_is_gone_and_the_inbox_still_answers(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    referral = await sent(client, rw, shared_fields=["name", "language"])
    url = f"{API}/referrals/{referral['id']}"
    r = await client.get(url, headers=rw.provider.headers)
    assert r.status_code == 200, r.text
    assert r.json()["shared"]["name"] == "Aino Äyräpää"

    await shred_case_key(db, rw.case.id)
    await db.commit()

    for actor in (rw.provider, rw.lead):
        r = await client.get(url, headers=actor.headers)
        assert r.status_code == 200, r.text
        assert r.json()["shared"] is None and "Aino" not in r.text
    r = await client.get(f"{API}/referrals", params={"box": "inbox"}, headers=rw.provider.headers)
    assert r.status_code == 200, r.text
    assert [item["shared"] for item in r.json()["items"]] == [None]
    r = await client.get(f"/fhir/R4/ServiceRequest/{referral['id']}", headers=rw.provider.headers)
    assert r.status_code == 200, r.text
    assert "Aino" not in r.text

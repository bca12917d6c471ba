"""A referral followed from creation to a completed outcome, from both sides."""

from __future__ import annotations

import httpx

from tests.referrals.conftest import API, ReferralWorld, create, moved


async def test_referral_followed_to_completed_outcome(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    draft = await create(client, rw)
    assert draft["status"] == "draft"
    assert draft["shared"] is None
    assert draft["allowed_transitions"] == ["requested", "cancelled"]
    # A provider sees no drafts.
    r = await client.get(f"{API}/referrals/{draft['id']}", headers=rw.provider.headers)
    assert r.status_code == 404
    ref = await moved(client, rw.lead, draft, "requested")
    assert ref["shared"]["name"] == "Aino Äyräpää"
    assert ref["shared_fields"] == ["name", "language"]
    inbox = await client.get(f"{API}/referrals", headers=rw.provider.headers)
    assert inbox.status_code == 200, inbox.text
    [item] = inbox.json()["items"]
    assert item["id"] == ref["id"]
    assert "case_id" not in item
    assert item["allowed_transitions"] == ["received"]
    for to, extra in (
        ("received", {}),
        ("accepted", {}),
        ("in_progress", {}),
        ("completed", {"outcome": "service_started"}),
    ):
        item = await moved(client, rw.provider, item, to, **extra)
        assert "case_id" not in item
    assert item["outcome"] == "service_started"
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.lead.headers)
    full = r.json()
    assert full["status"] == "completed"
    assert [e["to_status"] for e in full["history"]] == [
        "draft",
        "requested",
        "received",
        "accepted",
        "in_progress",
        "completed",
    ]
    for kind in ("ServiceRequest", "Task"):
        r = await client.get(f"/fhir/R4/{kind}/{ref['id']}", headers=rw.provider.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/fhir+json"

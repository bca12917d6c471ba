"""Withdrawing the basis after sending: the service no longer reads what was shared."""

from __future__ import annotations

import httpx

from tests.referrals.conftest import API, ReferralWorld, moved, sent


async def _withdraw(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await client.post(
        f"{API}/persons/{rw.victim.id}/consents/{rw.consent.id}/withdrawal",
        json={"note": "Withdrawn at the meeting."},
        headers=rw.lead.headers,
    )
    assert r.status_code == 200, r.text


async def test_withdrawal_hides_the_shared_values_from_the_service(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    ref = await sent(client, rw)
    url = f"{API}/referrals/{ref['id']}"
    before = (await client.get(url, headers=rw.provider.headers)).json()
    assert before["sharing_withdrawn"] is False
    assert before["shared"]["name"] == "Aino Äyräpää"
    assert before["note_to_provider"]

    await _withdraw(client, rw)
    after = await client.get(url, headers=rw.provider.headers)
    assert after.status_code == 200
    body = after.json()
    assert body["sharing_withdrawn"] is True
    assert body["shared"] is None and body["note_to_provider"] is None
    assert "Aino" not in after.text and "Äyräpää" not in after.text
    inbox = await client.get(f"{API}/referrals", headers=rw.provider.headers)
    assert "Aino" not in inbox.text
    assert [i["sharing_withdrawn"] for i in inbox.json()["items"]] == [True]
    for kind in ("ServiceRequest", "Task"):
        fhir = await client.get(f"/fhir/R4/{kind}/{ref['id']}", headers=rw.provider.headers)
        assert fhir.status_code == 200
        assert "Aino" not in fhir.text and before["note_to_provider"] not in fhir.text

    # The referrer still sees what went, and the flag telling them to act.
    mine = (await client.get(url, headers=rw.lead.headers)).json()
    assert mine["sharing_withdrawn"] is True
    assert mine["shared"]["name"] == "Aino Äyräpää"
    # The service can still answer (e.g. reject), and the referrer can cancel.
    answered = await moved(client, rw.provider, body, "received")
    assert answered["shared"] is None
    cancelled = await moved(
        client,
        rw.lead,
        mine | {"version": answered["version"]},
        "cancelled",
        reason_code="no_longer_needed",
        reason_text="The victim withdrew her consent.",
    )
    assert cancelled["status"] == "cancelled"

"""Canaries for the free text sealed by revision 0025 (tests/security/test_canaries.py).

Referrals (reason, note to the provider, the reason and outcome texts, the
events' copies), a consent's reference and withdrawal note, the reasons of
identity and facts versions, and a concern's subject names as submitted, its
description and its decision's reason: each written through the API, and read
back through it.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.referrals.conftest import API, ReferralWorld

TEXT_CANARIES = {
    "identity_reason": "CanaryIdentityReason misspelt at intake",
    "facts_reason": "CanaryFactsReason moved to the shelter",
    "ref_reason": "CanaryReferralReason beaten at home",
    "ref_note": "CanaryProviderNote call only after six",
    "ref_hold": "CanaryHold waiting for the shelter place",
    "ref_outcome": "CanaryOutcome moved in with her sister",
    "ref_cancel": "CanaryCancel she fled the region",
    "consent_ref": "CanaryConsentRef signed by Vilja at the shelter",
    "consent_note": "CanaryWithdrawal she fears he reads her mail",
    "concern_given": "CanaryGivenWilhelmiina",
    "concern_family": "CanaryFamilyKorhonen",
    "concern_description": "CanaryConcern bruises seen at the clinic",
    "concern_reason": "CanaryDismissed already in the Marak case",
}
#: The sealed columns of revision 0025 and the canaries that reach them.
TEXT_SEALED: dict[str, tuple[str, ...]] = {
    "person_versions.reason_enc": ("identity_reason",),
    "person_case_fact_versions.reason_enc": ("facts_reason",),
    "referrals.reason_enc": ("ref_reason",),
    "referrals.note_to_provider_enc": ("ref_note",),
    "referrals.reason_text_enc": ("ref_cancel",),
    "referrals.outcome_text_enc": ("ref_outcome",),
    "referral_events.reason_text_enc": ("ref_hold", "ref_cancel"),
    "person_consents.reference_enc": ("consent_ref",),
    "person_consents.withdrawal_note_enc": ("consent_note",),
    "concerns.subject_given_name_enc": ("concern_given",),
    "concerns.subject_family_name_enc": ("concern_family",),
    "concerns.description_enc": ("concern_description",),
    "concerns.decision_reason_enc": ("concern_reason",),
}
C = TEXT_CANARIES


def _key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": f"canary-text-{key}"}


async def _move(
    client: httpx.AsyncClient, headers: dict[str, str], ref: dict[str, Any], to: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(
        f"{API}/referrals/{ref['id']}/transitions",
        json={"to": to, **body},
        headers={**headers, "If-Match": f'"{ref["version"]}"'},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def exercise_sealed_text(
    client: httpx.AsyncClient, rw: ReferralWorld, code: str, person_id: str, basis_id: str
) -> None:
    """Write each text of revision 0025 through the API and read it back."""
    lead, provider = rw.lead.headers, rw.provider.headers
    body = {
        "subject_person_id": person_id,
        "service_id": str(rw.service.id),
        "reason": C["ref_reason"],
        "note_to_provider": C["ref_note"],
        "urgency": "routine",
        "shared_fields": ["name"],
        "basis_id": basis_id,
    }
    r = await client.post(f"{API}/cases/{rw.case.id}/referrals", json=body, headers=_key(lead, "r"))
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == C["ref_reason"]
    ref = await _move(client, lead, r.json(), "requested")
    for to in ("received", "accepted"):
        ref = await _move(client, provider, ref, to)
    ref = await _move(client, provider, ref, "on_hold", reason_text=C["ref_hold"])
    assert ref["reason_text"] == C["ref_hold"] and ref["note_to_provider"] == C["ref_note"]
    for to in ("accepted", "in_progress"):
        ref = await _move(client, provider, ref, to)
    done = {"outcome": "other", "outcome_text": C["ref_outcome"]}
    ref = await _move(client, provider, ref, "completed", **done)
    assert ref["outcome_text"] == C["ref_outcome"]
    seen = await client.get(f"{API}/referrals/{ref['id']}", headers=lead)
    assert [e["reason_text"] for e in seen.json()["history"]].count(C["ref_hold"]) == 1

    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json={**body, "reason": "Second thoughts.", "note_to_provider": None},
        headers=_key(lead, "r2"),
    )
    assert r.status_code == 201, r.text
    cancel = {"reason_code": "no_longer_needed", "reason_text": C["ref_cancel"]}
    assert (await _move(client, lead, r.json(), "cancelled", **cancel))["reason_text"] == (
        C["ref_cancel"]
    )

    consents = f"{API}/persons/{person_id}/consents"
    consent = {
        "case_id": str(rw.case.id),
        "basis": "consent",
        "scope": "service_referral",
        "service_name": rw.service.name,
        "given_by": "person",
        "method": "written",
        "reference": C["consent_ref"],
    }
    r = await client.post(consents, json=consent, headers=_key(lead, "consent"))
    assert r.status_code == 201 and r.json()["reference"] == C["consent_ref"], r.text
    r = await client.post(
        f"{consents}/{r.json()['id']}/withdrawal", json={"note": C["consent_note"]}, headers=lead
    )
    assert r.status_code == 200 and r.json()["withdrawal_note"] == C["consent_note"], r.text
    listed = await client.get(consents, headers=lead)
    assert C["consent_ref"] in listed.text and C["consent_note"] in listed.text
    await _concern(client, rw, code)


async def _concern(client: httpx.AsyncClient, rw: ReferralWorld, code: str) -> None:
    """A concern about the same person (matched by code: the names stay on the concern)."""
    world = rw.world
    body = {
        "team_id": str(world.hah.id),
        "subject": {
            "given_name": C["concern_given"],
            "family_name": C["concern_family"],
            "identity_code": code,
        },
        "description": C["concern_description"],
        "legal_basis": "threat_to_life_or_health_notification",
    }
    r = await client.post(
        f"{API}/concerns", json=body, headers=_key(world.health.headers, "concern")
    )
    assert r.status_code == 201, r.text
    url = f"{API}/concerns/{r.json()['id']}"
    r = await client.get(url, headers=world.police.headers)
    assert r.status_code == 200, r.text
    assert r.json()["subject"]["given_name"] == C["concern_given"]
    assert r.json()["description"] == C["concern_description"]
    r = await client.post(
        f"{url}/screening",
        json={"decision": "dismiss", "reason": C["concern_reason"]},
        headers={**world.police.headers, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200 and r.json()["decision_reason"] == C["concern_reason"], r.text

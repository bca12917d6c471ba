"""Canaries in the case free text sealed by revision 0024 (tests/security/test_canaries.py):
the case's summary and closure reason, a transition's reasons, an invitation's and a
must-not-receive reason, an incident's note, an outside assessment's reference, the
plan version's summary, contacts and agreed measures, a measure's description; and
the text of an assessment's judgement (0026), a measure's outcome note (0027)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.platform.clock import clock
from tests.plans.factories import settle_measure
from tests.referrals.conftest import API, ReferralWorld
from tests.risk import answers
from tests.world import open_case

CASE_CANARIES = {
    "case_summary": "CanaryCaseSummary beaten at home",
    "closure": "CanaryClosure moved to a shelter",
    "no_consent": "CanaryNoConsent too frightened",
    "invite": "CanaryInvite knows the family",
    "excluded": "CanaryExcluded employs the brother",
    "incident": "CanaryIncident bruises on the arm",
    "external": "CanaryExternal FPO-2026-881",
    "plan_summary": "CanaryPlanSummary stay with the aunt",
    "contact": "CanaryContact aunt Ritva",
    "measure": "CanaryMeasure shelter in Tampere",
    "judgement_reasons": "CanaryJudgement he showed her the knife",
    "outcome": "CanaryOutcome moved in with the aunt",
}
#: The sealed columns these reach, and their canaries.
CASE_SEALED: dict[str, tuple[str, ...]] = {
    "cases.summary_enc": ("case_summary",),
    "cases.closure_reason_enc": ("closure",),
    "case_transitions.reason_enc": ("closure",),
    "case_transitions.no_consent_reason_enc": ("no_consent",),
    "case_members.invite_reason_enc": ("invite",),
    "case_exclusions.reason_enc": ("excluded",),
    "case_incidents.note_enc": ("incident",),
    "external_assessments.reference_enc": ("external",),
    "plan_versions.summary_enc": ("plan_summary",),
    "plan_versions.contacts_enc": ("contact",),
    "plan_versions.measures_snapshot_enc": ("measure",),
    "plan_measures.description_enc": ("measure",),
    "assessments.judgement_text_enc": ("judgement_reasons",),
    "plan_measures.outcome_note_enc": ("outcome",),
}


async def _send(client: httpx.AsyncClient, method: str, url: str, body: Any, headers: Any) -> Any:
    r = await client.request(method, url, json=body, headers=headers)
    assert r.status_code in (200, 201), (url, r.text)
    assert any(c in r.text for c in CASE_CANARIES.values()), url  # the API reads it back
    return r


async def exercise_case_text(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    """After test_canaries' exercise: the case's draft plan exists, the case is open."""
    lead, world, c = rw.lead, rw.world, CASE_CANARIES
    url = f"{API}/cases/{rw.case.id}"
    etag = (await client.get(url, headers=lead.headers)).headers["etag"]
    await _send(
        client, "PATCH", url, {"summary": c["case_summary"]}, {**lead.headers, "If-Match": etag}
    )
    invite = {"user_id": str(world.outsider_police.id), "invite_reason": c["invite"]}
    await _send(client, "POST", f"{url}/members", invite, lead.headers)
    excluded = {"organisation_id": str(world.other.id), "reason": c["excluded"]}
    await _send(client, "POST", f"{url}/must-not-receive", excluded, lead.headers)
    day = (clock.today() - timedelta(days=2)).isoformat()
    happened = {"occurred_on": day, "source": "police", "police_reported": True}
    await _send(
        client, "POST", f"{url}/incidents", {**happened, "note": c["incident"]}, lead.headers
    )
    tool = {"tool": "hcr-20-v3", "assessed_on": day, "assessor": "Clinic",
            "summary_rating": "moderate", "reference": c["external"]}  # fmt: skip
    await _send(client, "POST", f"{url}/external-assessments", tool, lead.headers)
    plan = await client.get(f"{url}/plan", headers=lead.headers)
    contacts = [{"label": c["contact"], "phone": "040 555 1234"}]
    changed = {"summary": c["plan_summary"], "contacts": contacts}
    headers = {**lead.headers, "If-Match": plan.headers["etag"]}
    await _send(client, "PATCH", f"{url}/plan", changed, headers)
    measure = {"category": "shelter", "description": c["measure"],
               "responsible_organisation_id": str(lead.org_id)}  # fmt: skip
    await _send(client, "POST", f"{url}/plan/measures", measure, lead.headers)
    plan = await client.get(f"{url}/plan", headers=lead.headers)
    headers = {**lead.headers, "If-Match": plan.headers["etag"]}
    await _send(client, "POST", f"{url}/plan/agree", {}, headers)
    # A draft (no effect on the case), referred on judgement with written reasons (0026).
    judged = answers.marak(
        1, professional_judgement="refer_high_risk", judgement_reasons=c["judgement_reasons"]
    )
    await _send(client, "POST", f"{url}/assessments", {**judged, "submit": False}, lead.headers)
    settled = await settle_measure(client, lead, rw.case.id, c["outcome"])
    assert settled["outcome_note"] == c["outcome"]
    # Another case, closed with a reason (this one has an open referral).
    other = await open_case(client, world.police, world.marak)
    consent = {"victim_aware": True, "consent_given": False, "no_consent_reason": c["no_consent"]}
    closing = {"to": "closed", "outcome": "moved_out_of_area", "reason": c["closure"]}
    headers = {**world.police.headers, "If-Match": other["etag"]}
    body = {**closing, "consent": consent}
    await _send(client, "POST", f"{API}/cases/{other['id']}/transitions", body, headers)

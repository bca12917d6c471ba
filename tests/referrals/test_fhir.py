"""The FHIR R4 rendering of a referral: valid resources, the minimum only, the same access."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from tests.cases.factories import add_note
from tests.persons.factories import add_consent, new_code, record_person
from tests.problems import assert_problem
from tests.referrals.conftest import ReferralWorld, create, moved, sent
from tests.world import Actor, TokenFactory, make_user

FHIR = "/fhir/R4"
KINDS = ("ServiceRequest", "Task")
HETU = "urn:oid:1.2.246.21"
#: R4 value sets (fhir.resources checks the type of a code, not its value set).
R4_REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error"}
R4_TASK_STATUS = set(
    "draft requested received accepted rejected ready cancelled in-progress on-hold failed"
    " completed entered-in-error".split()
)
R4_PRIORITY = {"routine", "urgent", "asap", "stat"}
EXPECTED_REQUEST_STATUS = {
    "draft": "draft",
    "requested": "active",
    "accepted": "active",
    "on_hold": "on-hold",
    "completed": "completed",
    "rejected": "revoked",
    "cancelled": "revoked",
}
REJECT = {"reason_code": "no_capacity", "reason_text": "Full until the autumn."}
CANCEL = {"reason_code": "risk_changed", "reason_text": "The situation changed."}
HOLD = {"reason_text": "Waiting for an interpreter."}
COMPLETE = {"outcome": "other", "outcome_text": "Moved to another municipality."}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def fhir_get(
    client: httpx.AsyncClient, actor: Actor, kind: str, ref: dict[str, Any]
) -> httpx.Response:
    return await client.get(f"{FHIR}/{kind}/{ref['id']}", headers=actor.headers)


async def fhir_json(
    client: httpx.AsyncClient, actor: Actor, kind: str, ref: dict[str, Any]
) -> dict[str, Any]:
    r = await fhir_get(client, actor, kind, ref)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/fhir+json"
    body = r.json()
    assert body["resourceType"] == kind
    return dict(body)


async def reach(client: httpx.AsyncClient, rw: ReferralWorld, state: str) -> dict[str, Any]:
    """A referral brought to ``state`` through the API."""
    if state == "draft":
        return await create(client, rw)
    ref = await sent(client, rw)
    if state == "cancelled":
        return await moved(client, rw.lead, ref, "cancelled", **CANCEL)
    path: list[tuple[str, dict[str, Any]]] = {
        "requested": [],
        "accepted": [("received", {}), ("accepted", {})],
        "on_hold": [("received", {}), ("accepted", {}), ("on_hold", HOLD)],
        "completed": [
            ("received", {}),
            ("accepted", {}),
            ("in_progress", {}),
            ("completed", COMPLETE),
        ],
        "rejected": [("received", {}), ("rejected", REJECT)],
    }[state]
    for to, extra in path:
        ref = await moved(client, rw.provider, ref, to, **extra)
    return ref


@pytest.mark.parametrize("state", list(EXPECTED_REQUEST_STATUS))
async def test_resources_validate_and_round_trip(
    client: httpx.AsyncClient, rw: ReferralWorld, state: str
) -> None:
    ref = await reach(client, rw, state)
    rid = ref["id"]
    reader = rw.lead if state == "draft" else rw.provider
    raw_sr = await fhir_json(client, reader, "ServiceRequest", ref)
    raw_task = await fhir_json(client, reader, "Task", ref)
    if state != "draft":  # the minimum only, whoever asks: the lead gets the same resources
        assert await fhir_json(client, rw.lead, "ServiceRequest", ref) == raw_sr
        assert await fhir_json(client, rw.lead, "Task", ref) == raw_task
    sr = ServiceRequest.model_validate(raw_sr)
    task = Task.model_validate(raw_task)

    requester_display = f"Test {rw.lead.sub} ({rw.world.org.name})"
    assert sr.id == rid
    assert [(i.system, i.value) for i in sr.identifier] == [("urn:casecoord:referral", rid)]
    assert sr.status == EXPECTED_REQUEST_STATUS[state]
    assert sr.status in R4_REQUEST_STATUS
    assert sr.intent == "order"
    assert sr.priority == ref["urgency"] == "urgent"
    assert sr.subject.reference == "#subject"
    [patient] = sr.contained
    assert patient.get_resource_type() == "Patient" and patient.id == "subject"
    assert sr.requester.display == requester_display
    assert sr.requester.identifier.value == rw.world.org.code
    [performer] = sr.performer
    assert performer.display == rw.provider_org.name
    assert performer.identifier.value == rw.provider_org.code
    assert sr.code.text == rw.service.name
    assert [n.text for n in sr.note] == [ref["note_to_provider"]]
    assert (sr.authoredOn is None) == (state == "draft")

    assert task.id == rid
    assert task.focus.reference == f"ServiceRequest/{rid}"
    assert [b.reference for b in task.basedOn] == [f"ServiceRequest/{rid}"]
    assert [i.value for i in task.identifier] == [rid]
    assert task.status == state.replace("_", "-")
    assert task.status in R4_TASK_STATUS
    assert task.intent == "order"
    assert task.priority == ref["urgency"] and task.priority in R4_PRIORITY
    assert task.owner.display == rw.provider_org.name
    assert task.owner.identifier.value == rw.provider_org.code
    assert task.requester.display == requester_display
    if state == "draft":
        assert task.restriction is None
    else:
        assert task.restriction.period.end == ts(ref["response_due_at"])
    if state in ("rejected", "cancelled"):
        extra = REJECT if state == "rejected" else CANCEL
        [coding] = task.statusReason.coding
        assert coding.code == extra["reason_code"] == ref["reason_code"]
        assert task.statusReason.text == extra["reason_text"]
    elif state == "on_hold":
        assert task.statusReason.text == HOLD["reason_text"]
    else:
        assert task.statusReason is None
    if state == "completed":
        [output] = task.output
        assert output.valueCodeableConcept.coding[0].code == "other"
        assert output.valueCodeableConcept.text == COMPLETE["outcome_text"]
        assert task.executionPeriod.start == ts(ref["accepted_at"])
        assert task.executionPeriod.end == ts(ref["ended_at"])
    else:
        assert task.output is None
    if state in ("accepted", "on_hold"):
        assert task.executionPeriod.start == ts(ref["accepted_at"])
        assert task.executionPeriod.end is None


@pytest.fixture
async def protected_subject(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> dict[str, Any]:
    """A victim with identity code, birth date and phone on record, consenting to referral."""
    code = new_code()
    created = await record_person(
        client,
        rw.lead,
        str(rw.case.id),
        "victim",
        identity_code=code,
        preferred_language="fi",
        phones=[{"number": "+358 40 765 4321", "safe_to_call": True}],
    )
    person_id = uuid.UUID(created["person"]["id"])
    consent = await add_consent(db, person_id, rw.lead, scope="service_referral")
    await add_note(db, rw.case, rw.lead, text="CASE-NOTE-7731: he threatened her at work.")
    await db.commit()
    return {"id": str(person_id), "basis_id": str(consent.id), "code": code}


INTERNAL_REASON = "INTERNAL-REASON-4410: repeated threats; police suspect stalking."


async def test_contained_patient_holds_only_the_chosen_fields(
    client: httpx.AsyncClient, rw: ReferralWorld, protected_subject: dict[str, Any]
) -> None:
    subject = {
        "subject_person_id": protected_subject["id"],
        "basis_id": protected_subject["basis_id"],
        "reason": INTERNAL_REASON,
    }
    named = await sent(client, rw, shared_fields=["name"], **subject)
    raw = await fhir_json(client, rw.provider, "ServiceRequest", named)
    sr = ServiceRequest.model_validate(raw)
    [patient] = raw["contained"]
    assert patient == {
        "resourceType": "Patient",
        "id": "subject",
        "name": [{"text": "Vilja Virtanen"}],
    }
    assert sr.reasonCode is None

    protected = await sent(client, rw, shared_fields=["identity_code", "phone"], **subject)
    raw = await fhir_json(client, rw.provider, "ServiceRequest", protected)
    ServiceRequest.model_validate(raw)
    [patient] = raw["contained"]
    assert patient["identifier"] == [{"system": HETU, "value": protected_subject["code"]}]
    assert [(t["system"], t["value"]) for t in patient["telecom"]] == [
        ("phone", "+358 40 765 4321")
    ]
    assert "name" not in patient and "birthDate" not in patient

    for ref, hidden in (
        (named, [protected_subject["code"], "765 4321"]),
        (protected, ["Virtanen"]),
    ):
        for kind in KINDS:
            text = (await fhir_get(client, rw.provider, kind, ref)).text
            for secret in (
                str(rw.case.id),
                rw.case.reference,
                protected_subject["id"],
                INTERNAL_REASON,
                "CASE-NOTE-7731",
                "1988-04-12",  # the birth date on record (from the identity code)
                *hidden,
            ):
                assert secret not in text, (kind, secret)


async def test_reason_goes_out_only_when_shared(
    client: httpx.AsyncClient, rw: ReferralWorld, protected_subject: dict[str, Any]
) -> None:
    ref = await sent(
        client,
        rw,
        subject_person_id=protected_subject["id"],
        basis_id=protected_subject["basis_id"],
        reason=INTERNAL_REASON,
        shared_fields=["name", "reason"],
    )
    raw = await fhir_json(client, rw.provider, "ServiceRequest", ref)
    sr = ServiceRequest.model_validate(raw)
    assert [c.text for c in sr.reasonCode] == [INTERNAL_REASON]
    assert "CASE-NOTE-7731" not in str(raw) and str(rw.case.id) not in str(raw)


async def test_fhir_reads_follow_the_referral_access_rules(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld
) -> None:
    admin = await make_user(db, tokens, rw.world.org, "admin")
    await db.commit()
    draft = await create(client, rw)
    ref = await sent(client, rw)
    for kind in KINDS:
        assert (await fhir_get(client, rw.provider, kind, ref)).status_code == 200
        assert_problem(await fhir_get(client, rw.provider, kind, draft), 404)
        for stranger in (rw.other_provider, rw.world.outsider_police):
            assert_problem(await fhir_get(client, stranger, kind, ref), 404)
        for outside_policy in (rw.world.auditor, admin):
            assert_problem(await fhir_get(client, outside_policy, kind, ref), 403)

    reads = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "referral.read.fhir",
                AuditEvent.target_type == "person",
                AuditEvent.target_id == str(rw.victim.id),
            )
        )
    ).all()
    assert len(reads) == 2
    assert {e.actor_id for e in reads} == {rw.provider.id}
    assert all(e.outcome == "allowed" for e in reads)
    assert all(f"referral {ref['id']}" in (e.purpose or "") for e in reads)
    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.outcome == "denied", AuditEvent.target_id == ref["id"]
            )
        )
    ).all()
    assert {e.actor_id for e in denied} >= {rw.other_provider.id, rw.world.outsider_police.id}

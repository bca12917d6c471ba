"""What the receiving service sees: only referrals sent to it, only the chosen fields.

The provider never sees the case: no case id, no subject's person id, no
reason written for the case's members, no basis, measure or history; and
whatever it reads is in the subject's access report as a disclosure.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import POLICY, Action
from app.auth.principal import Role
from app.platform.db import utcnow
from app.referrals.models import Referral
from tests.cases.factories import add_grant
from tests.persons.factories import new_code
from tests.plans.factories import ensure_plan
from tests.problems import assert_problem
from tests.referrals.conftest import API, ReferralWorld, add_service, create, move, moved, sent
from tests.world import Actor

PROVIDER_KEYS = [
    "accepted_at", "allowed_transitions", "ended_at", "id", "note_to_provider", "outcome",
    "outcome_text", "overdue", "reason_code", "reason_text", "requester_name",
    "requester_organisation", "response_due_at", "sent_at", "service_id", "service_name",
    "shared", "shared_fields", "sharing_withdrawn", "status", "urgency", "version", "view",
]  # fmt: skip
SHARED_KEYS = ["birth_date", "identity_code", "language", "name", "phones", "reason", "risk_level"]
PHONES = [
    {"number": "+358 40 111 2222", "safe_to_call": False},
    {"number": "09 555 1234", "safe_to_call": True},
]


async def listed(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/referrals", params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["items"])


async def ids(client: httpx.AsyncClient, actor: Actor, **params: Any) -> set[str]:
    return {item["id"] for item in await listed(client, actor, **params)}


async def record_protected(client: httpx.AsyncClient, rw: ReferralWorld) -> str:
    """The victim's birth date, identity code and phones, recorded by the police lead."""
    code = new_code()
    url = f"{API}/persons/{rw.victim.id}"
    etag = (await client.get(url, headers=rw.lead.headers)).headers["etag"]
    r = await client.patch(
        url,
        json={
            "reason": "Recorded at the network meeting.",
            "birth_date": "1988-04-12",
            "identity_code": code,
            "case_id": str(rw.case.id),
        },
        headers={**rw.lead.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    # The phones are the referring case's facts: they travel from there.
    facts = f"{API}/cases/{rw.case.id}/persons/{rw.victim.id}/facts"
    etag = (await client.get(facts, headers=rw.lead.headers)).headers["etag"]
    r = await client.patch(
        facts,
        json={"reason": "Recorded at the network meeting.", "phones": PHONES},
        headers={**rw.lead.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    return code


def assert_no_case_data(text: str, rw: ReferralWorld, *secrets: str) -> None:
    for key in ("case_id", "subject_person_id", "basis", "measure", "history", "created_by"):
        assert f'"{key}' not in text, key
    for value in (
        str(rw.case.id),
        rw.case.reference,
        str(rw.victim.id),
        str(rw.consent.id),
        str(rw.lead.id),
        "assault in May",  # the reason, written for the case's members
        *secrets,
    ):
        assert value not in text, value


async def test_each_provider_sees_only_its_own_sent_referrals(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    mine = await sent(client, rw)
    theirs = await sent(client, rw, service_id=str(rw.other_service.id))
    drafts = {
        (await create(client, rw))["id"],
        (await create(client, rw, service_id=str(rw.other_service.id)))["id"],
    }
    assert await ids(client, rw.provider) == {mine["id"]}
    assert await ids(client, rw.provider, box="inbox") == {mine["id"]}
    assert await ids(client, rw.provider, status="draft") == set()
    assert await ids(client, rw.other_provider) == {theirs["id"]}
    assert await ids(client, rw.lead) == drafts | {mine["id"], theirs["id"]}
    for draft in drafts:
        for provider in (rw.provider, rw.other_provider):
            for path in ("/api/v1/referrals", "/fhir/R4/ServiceRequest", "/fhir/R4/Task"):
                r = await client.get(f"{path}/{draft}", headers=provider.headers)
                assert_problem(r, 404)


async def test_provider_view_holds_the_shared_minimum_only(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    _plan, measure = await ensure_plan(db, rw.case)
    await db.commit()
    ref = await sent(client, rw, measure_id=str(measure.id))
    [item] = await listed(client, rw.provider)
    one = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.provider.headers)
    assert one.status_code == 200, one.text
    moved_r = await move(client, rw.provider, one.json(), "received")
    assert moved_r.status_code == 200, moved_r.text
    for body in (item, one.json(), moved_r.json()):
        assert sorted(body) == PROVIDER_KEYS and body["view"] == "provider"
        assert sorted(body["shared"]) == SHARED_KEYS
        assert body["shared"]["name"] == "Aino Äyräpää"
        assert body["shared"]["language"] == "fi"
    listing = await client.get(f"{API}/referrals", headers=rw.provider.headers)
    texts = [listing.text, one.text, moved_r.text]
    for kind in ("ServiceRequest", "Task"):
        r = await client.get(f"/fhir/R4/{kind}/{ref['id']}", headers=rw.provider.headers)
        assert r.status_code == 200, r.text
        texts.append(r.text)
    for text in texts:
        assert_no_case_data(text, rw, str(measure.id))


async def test_only_the_chosen_fields_carry_values(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    code = await record_protected(client, rw)
    ref = await sent(client, rw, shared_fields=["name"])
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.provider.headers)
    assert r.json()["shared"] == {
        "name": "Aino Äyräpää",
        "birth_date": None,
        "identity_code": None,
        "phones": None,
        "language": None,
        "reason": None,
        "risk_level": None,
    }
    assert_no_case_data(r.text, rw, code, "1988-04-12", "111 2222", "555 1234")
    fhir = await client.get(f"/fhir/R4/ServiceRequest/{ref['id']}", headers=rw.provider.headers)
    [patient] = fhir.json()["contained"]
    assert patient == {
        "resourceType": "Patient",
        "id": "subject",
        "name": [{"text": "Aino Äyräpää"}],
    }
    # A police lead may share the phones: each with whether it is safe to call.
    ref = await sent(client, rw, shared_fields=["phone", "birth_date"])
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.provider.headers)
    shared = r.json()["shared"]
    assert shared["phones"] == PHONES
    assert shared["birth_date"] == "1988-04-12"
    assert (shared["name"], shared["identity_code"], shared["language"]) == (None, None, None)
    assert code not in r.text


async def test_provider_cannot_reach_the_case(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    await sent(client, rw)  # the provider has a referral from this case
    case = f"{API}/cases/{rw.case.id}"
    for path, action in (
        ("", Action.CASE_READ),
        ("/referrals", Action.CASE_REFERRAL_LIST),
        ("/notes", Action.CASE_NOTE_READ),
        ("/assessments", Action.CASE_ASSESSMENT_READ),
    ):
        want = 404 if Role.SERVICE_PROVIDER in POLICY[action][0] else 403
        r = await client.get(case + path, headers=rw.provider.headers)
        assert_problem(r, want)
        assert str(rw.case.id) not in r.text and rw.case.reference not in r.text


async def test_other_provider_gets_404_everywhere(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    ref = await sent(client, rw)
    other = rw.other_provider
    for path in (
        f"{API}/referrals/{ref['id']}",
        *(f"/fhir/R4/{k}/{ref['id']}" for k in ("ServiceRequest", "Task")),
    ):
        assert_problem(await client.get(path, headers=other.headers), 404)
    assert_problem(await move(client, other, ref, "received"), 404)
    unknown = {**ref, "id": str(uuid.uuid4())}
    assert_problem(await move(client, rw.provider, unknown, "received"), 404)
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.lead.headers)
    assert (r.json()["status"], r.json()["version"]) == ("requested", ref["version"])


async def test_inbox_filters_and_paging(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    second = await add_service(db, rw.provider_org, service_type="shelter")
    await db.commit()
    p = rw.provider
    waiting = await sent(client, rw, urgency="urgent")
    received = await moved(client, p, await sent(client, rw, urgency="routine"), "received")
    accepted = await moved(
        client,
        p,
        await moved(
            client, p, await sent(client, rw, urgency="stat", service_id=str(second.id)), "received"
        ),
        "accepted",
    )
    late = await sent(client, rw, urgency="routine")
    await db.execute(
        update(Referral)
        .where(Referral.id == uuid.UUID(late["id"]))
        .values(response_due_at=utcnow() - timedelta(days=1))
    )
    await db.commit()
    everything = {waiting["id"], received["id"], accepted["id"], late["id"]}
    assert await ids(client, p) == everything
    assert await ids(client, p, status="requested") == {waiting["id"], late["id"]}
    assert await ids(client, p, status=["requested", "received"]) == everything - {accepted["id"]}
    assert await ids(client, p, urgency="routine") == {received["id"], late["id"]}
    assert await ids(client, p, service_id=str(second.id)) == {accepted["id"]}
    assert await ids(client, p, service_id=str(rw.other_service.id)) == set()
    overdue = await listed(client, p, overdue="true")
    assert [i["id"] for i in overdue] == [late["id"]] and overdue[0]["overdue"] is True
    assert await ids(client, p, overdue="false") == everything - {late["id"]}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"{API}/referrals", params=params, headers=p.headers)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= 1
        seen += [i["id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4 and set(seen) == everything
    for params in ({"limit": 101}, {"limit": 0}, {"cursor": "not-a-cursor"}, {"urgency": "soon"}):
        assert_problem(await client.get(f"{API}/referrals", params=params, headers=p.headers), 422)


@pytest.mark.parametrize("forged", [{"v": "abc"}, {"v": 5}, {"t": "2024-01-01T00:00:00"}], ids=str)
async def test_cursor_of_the_wrong_shape_is_422(
    client: httpx.AsyncClient, rw: ReferralWorld, forged: dict[str, Any]
) -> None:
    """Well-formed JSON, but not a cursor this list issued (not an aware timestamp)."""
    await sent(client, rw)
    raw = json.dumps({**forged, "id": str(uuid.uuid4())}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for actor in (rw.provider, rw.lead):
        r = await client.get(f"{API}/referrals", params={"cursor": cursor}, headers=actor.headers)
        assert_problem(r, 422)


async def test_outbox_for_referrers_inbox_for_providers(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    ref = await sent(client, rw)
    draft = await create(client, rw)
    reader = rw.world.outsider_police  # breaks the glass: reads, never moves
    await add_grant(db, rw.case, reader)
    await db.commit()
    for actor, params in ((rw.lead, {}), (rw.lead, {"box": "outbox"}), (reader, {})):
        items = await listed(client, actor, **params)
        assert {i["id"] for i in items} == {ref["id"], draft["id"]}
        for item in items:
            assert item["case_id"] == str(rw.case.id)
            assert item["subject_person_id"] == str(rw.victim.id)
            assert item["reason"] == ref["reason"]
            r = await client.get(f"{API}/referrals/{item['id']}", headers=actor.headers)
            # Never a move the caller could not make on the referral itself.
            assert set(item["allowed_transitions"]) <= set(r.json()["allowed_transitions"])
            if actor is reader:
                assert item["allowed_transitions"] == r.json()["allowed_transitions"] == []
    by_case = await listed(client, rw.member, case_id=str(rw.case.id))
    assert {i["id"] for i in by_case} == {ref["id"], draft["id"]}
    r = await client.get(f"{API}/referrals", params={"box": "inbox"}, headers=rw.lead.headers)
    assert_problem(r, 403)
    r = await client.get(f"{API}/referrals", params={"box": "outbox"}, headers=rw.provider.headers)
    assert_problem(r, 403)


async def test_provider_reads_are_disclosures_in_the_access_report(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    ref = await sent(client, rw)
    disclosed = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "referral.disclosed",
                AuditEvent.target_id == str(rw.victim.id),
            )
        )
    ).all()
    assert [(e.actor_id, e.target_type, e.outcome) for e in disclosed] == [
        (rw.lead.id, "person", "allowed")
    ]
    assert f"referral {ref['id']}" in (disclosed[0].purpose or "")
    assert rw.provider_org.code in (disclosed[0].purpose or "")
    r = await client.get(f"{API}/referrals/{ref['id']}", headers=rw.provider.headers)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in await listed(client, rw.provider)] == [ref["id"]]
    report = await client.get(
        f"{API}/persons/{rw.victim.id}/access-report", headers=rw.world.auditor.headers
    )
    assert report.status_code == 200, report.text
    basis = f"basis consent:{rw.consent.id}"
    reads = [
        e
        for e in report.json()["entries"]
        if e["action"] == "referral.read" and e["actor_organisation"] == rw.provider_org.code
    ]
    assert len(reads) == 1
    assert f"referral {ref['id']}" in reads[0]["purpose"] and basis in reads[0]["purpose"]
    assert reads[0]["actor_id"] == str(rw.provider.id) and reads[0]["outcome"] == "allowed"
    [item_read] = [e for e in report.json()["entries"] if e["action"] == "referral.listed"]
    assert item_read["actor_organisation"] == rw.provider_org.code
    assert f"referral {ref['id']}" in item_read["purpose"] and basis in item_read["purpose"]
    disclosures = {d["organisation"]: d for d in report.json()["disclosures"]}
    assert rw.provider_org.code in disclosures
    assert rw.other_org.code not in disclosures
    bases = disclosures[rw.provider_org.code]["bases"]
    assert str(rw.consent.id) in {b["consent_id"] for b in bases}


class TestMustNotReceiveAfterSending:
    async def test_a_provider_put_on_the_list_loses_every_way_in(
        self, client: httpx.AsyncClient, rw: ReferralWorld
    ) -> None:
        referral = await sent(client, rw)
        url = f"{API}/referrals/{referral['id']}"
        fhir = [f"/fhir/R4/{kind}/{referral['id']}" for kind in ("ServiceRequest", "Task")]
        paths = [url, *fhir]
        for path in paths:
            assert (await client.get(path, headers=rw.provider.headers)).status_code == 200
        assert referral["id"] in await ids(client, rw.provider)
        tasks = (await client.get(f"{API}/me/tasks", headers=rw.provider.headers)).json()
        assert referral["id"] in json.dumps(tasks)

        r = await client.post(
            f"{API}/cases/{rw.case.id}/must-not-receive",
            json={"organisation_id": str(rw.provider_org.id), "reason": "Employs the perpetrator."},
            headers=rw.lead.headers,
        )
        assert r.status_code == 201, r.text

        for path in paths:
            assert_problem(await client.get(path, headers=rw.provider.headers), 404)
        assert referral["id"] not in await ids(client, rw.provider)
        tasks = (await client.get(f"{API}/me/tasks", headers=rw.provider.headers)).json()
        assert referral["id"] not in json.dumps(tasks)
        r = await client.post(
            f"{url}/transitions",
            json={"to": "received"},
            headers={**rw.provider.headers, "If-Match": f'"{referral["version"]}"'},
        )
        assert_problem(r, 404)
        # The referring side still reads it.
        assert (await client.get(url, headers=rw.lead.headers)).status_code == 200

"""An access request from recording to export: four eyes, the export's content,
police data withheld on a ground, refusal, and the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from tests.access_requests.conftest import (
    BASE,
    CANARY,
    Scene,
    approved,
    decide,
    pdf_text,
    proposed,
    recorded,
)
from tests.problems import assert_problem


def canaries(scene: Scene) -> list[str]:
    """Everything of the other person, spaces removed (a PDF line may wrap anywhere)."""
    values = [*CANARY.values(), scene.canary_code, scene.canary_id]
    return ["".join(v.split()).lower() for v in values]


def leaked(text: str, scene: Scene) -> list[str]:
    squeezed = "".join(text.split()).lower()
    return [c for c in canaries(scene) if c in squeezed]


async def audit_rows(db: AsyncSession, target_id: str) -> list[tuple[str, str, str | None]]:
    rows = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_id == target_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    return [(r.action, r.outcome, r.purpose) for r in rows]


class TestFullFlow:
    async def test_record_approve_export_json_and_pdf(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        w = scene.world
        request = await recorded(client, scene)
        assert request["status"] == "recorded"
        assert request["due_on"] > request["received_on"]
        assert request["overdue"] is False
        # The second auditor sees it in /me/tasks; the recorder does not.
        tasks = (await client.get("/api/v1/me/tasks", headers=scene.second_auditor.headers)).json()
        assert request["id"] in [t["target_id"] for t in tasks]
        mine = (await client.get("/api/v1/me/tasks", headers=w.auditor.headers)).json()
        assert request["id"] not in [t["target_id"] for t in mine]

        r = await decide(client, scene.second_auditor, request, "approval")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
        assert r.json()["decided_by"] == str(scene.second_auditor.id)

        r = await client.get(f"{BASE}/{request['id']}/export.json", headers=w.auditor.headers)
        assert r.status_code == 200, r.text
        export = r.json()
        assert not leaked(r.text, scene)
        assert export["person_id"] == scene.subject_id
        assert export["identity"]["family_name"] == "Subjektinen"
        assert export["identity"]["identity_code"] == scene.subject_code
        by_case = {c["case_id"]: c for c in export["cases"]}
        assert set(by_case) == {scene.social_case["id"], scene.police_case["id"]}
        social = by_case[scene.social_case["id"]]
        assert social["role"] == "victim"
        assert social["other_participant_roles"] == ["perpetrator"]
        assert social["facts"]["address"]["street"] == "Turvakatu 7"
        assert social["facts"]["phones"][0]["number"] == "+358 40 123 4567"
        safe = social["facts"]["safe_contact"]
        assert (safe["safe_to_call"], safe["safe_times"]) == (True, "Mornings")
        assert "feared_persons" not in social["facts"]["safe_contact"]
        assert [c["basis"] for c in social["consents"]] == ["consent"]
        (incident,) = social["incidents"]
        assert incident["note"] == "[another person] came to the door"
        # The access report is part of it: who processed the data.
        actions = [e["action"] for e in export["access_report"]["entries"]]
        assert "person.created" in actions
        assert "person.match_handle.issued" in actions
        assert [x["category"] for x in export["withheld"]] == ["safe_contact_names_of_others"]

        r = await client.get(f"{BASE}/{request['id']}/export.pdf", headers=w.auditor.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        text = pdf_text(r.content)
        assert "Subjektinen" in text and "Turvakatu 7" in text
        assert scene.social_case["reference"] in text
        assert not leaked(text, scene)

        again = (await client.get(f"{BASE}/{request['id']}", headers=w.auditor.headers)).json()
        assert again["export_count"] == 2
        assert again["first_exported_at"] is not None
        # Everything is audited by ids: recorded, approved, exported twice, and the
        # person's own access report shows the exports.
        trail = [(a, o) for a, o, _p in await audit_rows(db, request["id"])]
        assert trail[:3] == [
            ("access_request.recorded", "allowed"),
            ("access_request.approved", "allowed"),
            ("access_request.exported.json", "allowed"),
        ]
        assert ("access_request.exported.pdf", "allowed") in trail
        person_trail = [a for a, _o, _p in await audit_rows(db, scene.subject_id)]
        assert person_trail.count("person.access_request.exported") == 2

    async def test_the_idempotency_key_replays_the_same_request(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        w = scene.world
        body = {
            "person_id": scene.subject_id,
            "requester_kind": "guardian",
            "identity_verification": "in_person_identity_document",
            "received_on": "2026-01-05",
        }
        headers = {**w.auditor.headers, "Idempotency-Key": "ar-1"}
        first = await client.post(BASE, json=body, headers=headers)
        second = await client.post(BASE, json=body, headers=headers)
        assert first.status_code == second.status_code == 201, second.text
        assert first.json()["id"] == second.json()["id"]
        assert second.headers["Idempotent-Replayed"] == "true"
        assert first.json()["due_on"] == "2026-02-05"

    async def test_list_filters_by_status_and_overdue(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        w = scene.world
        late = await recorded(client, scene, received_on="2026-01-31")
        assert late["due_on"] == "2026-02-28" and late["overdue"] is True
        fresh = await recorded(client, scene)

        async def ids(query: str) -> set[str]:
            r = await client.get(f"{BASE}?{query}", headers=w.auditor.headers)
            assert r.status_code == 200, r.text
            return {item["id"] for item in r.json()["items"]}

        assert late["id"] in await ids("overdue=true")
        assert fresh["id"] not in await ids("overdue=true")
        assert fresh["id"] in await ids("overdue=false")
        assert {late["id"], fresh["id"]} <= await ids("status=recorded")
        assert late["id"] not in await ids("status=approved")
        # Keyset pages: one at a time, no repeats.
        r = await client.get(f"{BASE}?limit=1", headers=w.auditor.headers)
        page = r.json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        r = await client.get(
            f"{BASE}?limit=1&cursor={page['next_cursor']}", headers=w.auditor.headers
        )
        assert r.json()["items"][0]["id"] != page["items"][0]["id"]

    async def test_the_deadline_extends_once_by_two_months_on_four_eyes(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        w, second = scene.world, scene.second_auditor
        late = await recorded(client, scene, received_on="2026-01-31")
        r = await decide(client, w.auditor, late, "extension", reason="complexity")
        assert r.status_code == 200, r.text
        pending = r.json()
        # Proposed, not in effect: the deadline stands until a second auditor confirms.
        assert pending["due_on"] == "2026-02-28" and pending["extension_reason"] is None
        proposal = pending["extension_proposal"]
        assert (proposal["reason"], proposal["proposed_by"]) == ("complexity", str(w.auditor.id))
        read = (await client.get(f"{BASE}/{late['id']}", headers=second.headers)).json()
        assert read["extension_proposal"]["reason"] == "complexity"
        again = await decide(client, second, pending, "extension", reason="number_of_requests")
        assert_problem(again, 409)
        # The proposer cannot confirm their own proposal.
        own = await decide(client, w.auditor, pending, "extension/confirmation")
        assert "another person" in assert_problem(own, 403)["detail"].lower()
        r = await decide(client, second, pending, "extension/confirmation")
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["due_on"] == "2026-04-30" and done["extension_reason"] == "complexity"
        assert done["extended_by"] == str(second.id) and done["extension_proposal"] is None
        for who in (w.auditor, second):
            assert_problem(await decide(client, who, done, "extension", reason="complexity"), 409)
        assert_problem(await decide(client, second, done, "extension/confirmation"), 409)

    async def test_a_proposed_extension_is_a_task_for_the_second_auditor_only(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        async def tasks(who: Any) -> set[tuple[str, str]]:
            r = await client.get("/api/v1/me/tasks", headers=who.headers)
            assert r.status_code == 200, r.text
            return {(t["kind"], t["target_id"]) for t in r.json()}

        w, second = scene.world, scene.second_auditor
        pending = await proposed(client, scene)
        task = ("access_request.extension_to_confirm", pending["id"])
        assert task in await tasks(second)
        assert task not in await tasks(w.auditor)  # the proposer does not confirm
        r = await decide(client, second, pending, "extension/confirmation")
        assert r.status_code == 200, r.text
        assert task not in await tasks(second)

    async def test_nothing_to_confirm_without_a_proposal(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        request = await recorded(client, scene)
        r = await decide(client, scene.second_auditor, request, "extension/confirmation")
        assert "no extension" in assert_problem(r, 409)["detail"].lower()


class TestFourEyes:
    async def test_the_recorder_cannot_decide_and_the_attempt_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        request = await recorded(client, scene)
        for what, body in (("approval", {}), ("refusal", {"ground": "identity_not_established"})):
            r = await decide(client, scene.world.auditor, request, what, **body)
            problem = assert_problem(r, 403)
            assert "another person" in problem["detail"].lower()
        trail = await audit_rows(db, request["id"])
        denied = [action for action, outcome, _p in trail if outcome == "denied"]
        assert denied == ["access_request.decide", "access_request.decide"]
        state = await client.get(f"{BASE}/{request['id']}", headers=scene.world.auditor.headers)
        assert state.json()["status"] == "recorded"
        # The second person may; a decision is final.
        r = await decide(client, scene.second_auditor, request, "approval")
        assert r.status_code == 200, r.text
        assert_problem(await decide(client, scene.second_auditor, r.json(), "approval"), 409)
        refused = await decide(
            client, scene.second_auditor, r.json(), "refusal", ground="identity_not_established"
        )
        assert_problem(refused, 409)


class TestPoliceDataWithheld:
    async def test_the_ground_is_recorded_and_police_data_left_out(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        w = scene.world
        request = await approved(client, scene, withhold_police_data="prejudicing_crime_prevention")
        assert request["withholding_ground"] == "prejudicing_crime_prevention"
        assert request["legal_reference"] == "Directive (EU) 2016/680 art. 15(1)(b)"
        trail = await audit_rows(db, request["id"])
        assert (
            "access_request.approved",
            "allowed",
            "withheld police data: prejudicing_crime_prevention",
        ) in trail

        r = await client.get(f"{BASE}/{request['id']}/export.json", headers=w.auditor.headers)
        assert r.status_code == 200, r.text
        export = r.json()
        assert [c["case_id"] for c in export["cases"]] == [scene.social_case["id"]]
        assert scene.police_case["id"] not in r.text
        assert scene.police_case["reference"] not in r.text
        police = next(x for x in export["withheld"] if x["category"] == "police_operational_data")
        assert police["ground"] == "prejudicing_crime_prevention"
        assert "2016/680 art. 15(1)(b)" in police["legal_reference"]
        organisations = {e["actor_organisation"] for e in export["access_report"]["entries"]}
        assert w.org.code not in organisations  # the police officers' entries
        assert w.social.code in organisations
        text = pdf_text(
            (
                await client.get(f"{BASE}/{request['id']}/export.pdf", headers=w.auditor.headers)
            ).content
        )
        assert scene.police_case["reference"] not in text
        assert "prejudicing_crime_prevention" in text


class TestRefusal:
    async def test_a_refusal_records_its_ground_and_is_never_exported(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        w = scene.world
        request = await recorded(client, scene)
        r = await decide(
            client,
            scene.second_auditor,
            request,
            "refusal",
            ground="manifestly_unfounded_or_excessive",
        )
        assert r.status_code == 200, r.text
        refused = r.json()
        assert refused["status"] == "refused"
        assert refused["refusal_ground"] == "manifestly_unfounded_or_excessive"
        assert refused["legal_reference"] == "GDPR art. 12(5)(b)"
        assert refused["overdue"] is False
        for fmt in ("json", "pdf"):
            r = await client.get(f"{BASE}/{request['id']}/export.{fmt}", headers=w.auditor.headers)
            assert "refused" in assert_problem(r, 409)["detail"]
        assert_problem(await decide(client, scene.second_auditor, refused, "approval"), 409)
        trail = await audit_rows(db, request["id"])
        assert (
            "access_request.refused",
            "allowed",
            "manifestly_unfounded_or_excessive",
        ) in trail
        assert not [t for t in trail if t[0].startswith("access_request.exported")]

    async def test_an_unapproved_request_is_not_exported(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        request = await recorded(client, scene)
        for fmt in ("json", "pdf"):
            r = await client.get(
                f"{BASE}/{request['id']}/export.{fmt}", headers=scene.world.auditor.headers
            )
            assert "not approved" in assert_problem(r, 409)["detail"]


class TestBadInput:
    async def test_problems_not_500s_and_nothing_written(
        self, client: httpx.AsyncClient, scene: Scene
    ) -> None:
        w = scene.world
        good = {
            "person_id": scene.subject_id,
            "requester_kind": "person",
            "identity_verification": "strong_electronic_identification",
            "received_on": "2026-01-05",
        }
        bad_bodies = [
            {**good, "person_id": str(uuid.uuid4())},
            {**good, "received_on": "2999-01-01"},
            {**good, "identity_verification": "he looked honest"},
            {**good, "requester_kind": "neighbour"},
            {**good, "note": "free text is not accepted"},
            {k: v for k, v in good.items() if k != "person_id"},
        ]
        for body in bad_bodies:
            r = await client.post(BASE, json=body, headers=w.auditor.headers)
            assert_problem(r, 422)
        listing = await client.get(BASE, headers=w.auditor.headers)
        assert listing.json()["items"] == []
        assert_problem(await client.get(f"{BASE}?status=done", headers=w.auditor.headers), 422)
        assert_problem(await client.get(f"{BASE}?cursor=nonsense", headers=w.auditor.headers), 422)
        assert_problem(await client.get(f"{BASE}/{uuid.uuid4()}", headers=w.auditor.headers), 404)
        request = await recorded(client, scene)
        url = f"{BASE}/{request['id']}"
        second = scene.second_auditor
        assert_problem(await client.post(url + "/approval", json={}, headers=second.headers), 428)
        stale = {**request, "version": request["version"] + 5}
        assert_problem(await decide(client, second, stale, "approval"), 412)
        assert_problem(await decide(client, second, request, "refusal", ground="bored"), 422)
        assert_problem(await decide(client, second, request, "refusal"), 422)
        assert_problem(
            await decide(client, second, request, "approval", withhold_police_data="because"), 422
        )
        state = await client.get(url, headers=w.auditor.headers)
        assert state.json()["status"] == "recorded"

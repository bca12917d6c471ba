"""Issue 15 controls: requests scoped to the controller organisation, the hash of each
delivered export, case notes and meeting minutes and the judgement's text in the export."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.casekeys.freetext import SHREDDED_TEXT
from app.casekeys.service import shred_case_key
from app.cases.models import Case
from tests.access_requests.conftest import BASE, CANARY, Scene, approved, pdf_text, recorded
from tests.cases.factories import add_member
from tests.persons.factories import new_code, record_person
from tests.problems import assert_problem
from tests.risk import answers
from tests.risk.factories import assess
from tests.world import Actor, make_user, open_case

#: Another person, in a case of their own: nothing of theirs may reach the export.
STRANGER = {"given_name": "Vieraskävijä", "family_name": "Ulkopuolinen"}


async def note(client: httpx.AsyncClient, actor: Actor, case_id: str, text: str) -> None:
    r = await client.post(
        f"/api/v1/cases/{case_id}/notes",
        json={"text": text, "kind": "fact"},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text


async def minutes_line(client: httpx.AsyncClient, scene: Scene, actor: Actor, text: str) -> None:
    w = scene.world
    r = await client.post(
        "/api/v1/meetings",
        json={"team_id": str(w.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
        headers=w.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    meeting_id = r.json()["id"]
    case_id = scene.social_case["id"]
    r = await client.post(
        f"/api/v1/meetings/{meeting_id}/agenda",
        json={"case_id": case_id},
        headers=w.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/meetings/{meeting_id}/minutes",
        json={"case_id": case_id, "kind": "shared", "information_kind": "fact", "text": text},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text


async def with_notes(client: httpx.AsyncClient, db: AsyncSession, scene: Scene) -> None:
    """The subject's social case gets a social worker's note naming the other participant,
    a police officer's note and a minutes line; a stranger's own case gets a note."""
    w = scene.world
    case = await db.get(Case, uuid.UUID(scene.social_case["id"]))
    assert case is not None
    await add_member(db, case, w.police)
    await add_member(db, case, w.coordinator)
    case.status = "referred"  # a Marak case goes on a meeting's agenda once referred
    await db.commit()
    await note(
        client,
        w.social_worker,
        scene.social_case["id"],
        f"SUBJECT-NOTE: Saara told us {CANARY['given_name']} {CANARY['family_name']} phoned.",
    )
    await note(client, w.police, scene.social_case["id"], "POLICE-NOTE: patrol visited.")
    await minutes_line(client, scene, w.social_worker, "MINUTES-LINE: shelter place agreed.")
    other_case = await open_case(client, w.social_worker, w.marak)
    await record_person(
        client, w.social_worker, other_case["id"], "victim", identity_code=new_code(), **STRANGER
    )
    await note(
        client,
        w.social_worker,
        other_case["id"],
        f"STRANGER-NOTE: {STRANGER['given_name']} {STRANGER['family_name']} moved away.",
    )


def stranger_leaked(text: str) -> list[str]:
    values = [*STRANGER.values(), "STRANGER-NOTE"]
    return [v for v in values if v.lower() in text.lower()]


class TestControllerScope:
    async def test_another_organisations_auditor_sees_nothing_and_gets_404(
        self, client: httpx.AsyncClient, db: AsyncSession, tokens: Any, scene: Scene
    ) -> None:
        w = scene.world
        request = await recorded(client, scene)
        assert request["organisation_id"] == str(w.other.id)
        foreign = await make_user(db, tokens, w.social, "auditor")
        await db.commit()
        assert (await client.get(BASE, headers=foreign.headers)).json()["items"] == []
        for method, suffix, body in (
            ("GET", "", None),
            ("POST", "/approval", {}),
            ("POST", "/extension", {"reason": "complexity"}),
            ("GET", "/export.json", None),
        ):
            headers = {**foreign.headers, "If-Match": f'"{request["version"]}"'}
            r = await client.request(
                method, f"{BASE}/{request['id']}{suffix}", json=body, headers=headers
            )
            assert_problem(r, 404)
        tasks = (await client.get("/api/v1/me/tasks", headers=foreign.headers)).json()
        assert request["id"] not in [t["target_id"] for t in tasks]
        # Their own organisation's request is theirs to handle (and to list).
        mine = await client.post(
            BASE,
            json={
                "person_id": scene.subject_id,
                "requester_kind": "person",
                "identity_verification": "strong_electronic_identification",
                "received_on": request["received_on"],
            },
            headers={**foreign.headers, "Idempotency-Key": "foreign-1"},
        )
        assert mine.status_code == 201, mine.text
        listed = (await client.get(BASE, headers=foreign.headers)).json()["items"]
        assert [i["id"] for i in listed] == [mine.json()["id"]]
        assert_problem(
            await client.get(f"{BASE}/{mine.json()['id']}", headers=w.auditor.headers), 404
        )
        denied = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.actor_id == foreign.id, AuditEvent.outcome == "denied"
                )
            )
        ).all()
        assert {d.target_id for d in denied} == {request["id"]}


class TestDeliveries:
    async def test_each_delivery_records_the_sha256_of_the_bytes_received(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        w = scene.world
        request = await approved(client, scene)
        got = {}
        for fmt in ("json", "pdf", "json"):
            r = await client.get(f"{BASE}/{request['id']}/export.{fmt}", headers=w.auditor.headers)
            assert r.status_code == 200, r.text
            got.setdefault(fmt, []).append(r.content)
        assert json.loads(got["json"][0])["person_id"] == scene.subject_id
        read = (await client.get(f"{BASE}/{request['id']}", headers=w.auditor.headers)).json()
        deliveries = read["deliveries"]
        assert [d["kind"] for d in deliveries] == ["json", "pdf", "json"]
        received = [got["json"][0], got["pdf"][0], got["json"][1]]
        assert [d["sha256"] for d in deliveries] == [
            hashlib.sha256(body).hexdigest() for body in received
        ]
        assert [d["size"] for d in deliveries] == [len(body) for body in received]
        assert {d["delivered_by"] for d in deliveries} == {str(w.auditor.id)}
        assert read["export_count"] == 3
        # Audited by the delivery's id, never the content or the hash.
        rows = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.target_id == request["id"],
                    AuditEvent.action.startswith("access_request.exported"),
                )
            )
        ).all()
        assert len(rows) == 3
        for row in rows:
            assert row.purpose and row.purpose.startswith("delivery ")
            assert not any(d["sha256"] in row.purpose for d in deliveries)


class TestNotesAndMinutes:
    async def test_the_persons_notes_and_minutes_are_exported_scrubbed(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        await with_notes(client, db, scene)
        request = await approved(client, scene)
        r = await client.get(
            f"{BASE}/{request['id']}/export.json", headers=scene.world.auditor.headers
        )
        assert r.status_code == 200, r.text
        social = next(c for c in r.json()["cases"] if c["case_id"] == scene.social_case["id"])
        texts = [n["text"] for n in social["notes"]]
        assert "SUBJECT-NOTE: Saara told us [another person] phoned." in texts
        assert "POLICE-NOTE: patrol visited." in texts  # nothing withheld on this request
        assert [m["text"] for m in social["meeting_minutes"]] == [
            "MINUTES-LINE: shelter place agreed."
        ]
        assert CANARY["family_name"] not in r.text and not stranger_leaked(r.text)
        assert all("author_name" not in n for n in social["notes"])
        pdf = await client.get(
            f"{BASE}/{request['id']}/export.pdf", headers=scene.world.auditor.headers
        )
        assert "SUBJECT-NOTE" in "".join(pdf_text(pdf.content).split())

    async def test_police_notes_are_withheld_on_the_ground_and_the_withholding_recorded(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        await with_notes(client, db, scene)
        request = await approved(client, scene, withhold_police_data="prejudicing_crime_prevention")
        r = await client.get(
            f"{BASE}/{request['id']}/export.json", headers=scene.world.auditor.headers
        )
        assert r.status_code == 200, r.text
        (social,) = r.json()["cases"]
        texts = [n["text"] for n in social["notes"]]
        assert any(t.startswith("SUBJECT-NOTE") for t in texts)
        assert "POLICE-NOTE" not in r.text and not stranger_leaked(r.text)
        row = await db.scalar(
            select(AuditEvent).where(
                AuditEvent.target_id == request["id"],
                AuditEvent.action == "access_request.exported.json",
            )
        )
        assert row is not None and row.purpose is not None
        assert row.purpose.endswith("police entries withheld: 1")

    async def test_a_shredded_cases_free_text_reads_as_destroyed_and_the_rest_exports(
        self, client: httpx.AsyncClient, db: AsyncSession, scene: Scene
    ) -> None:
        """The export spans the person's cases: one shredded case must not fail it."""
        request = await approved(client, scene)
        await shred_case_key(db, uuid.UUID(scene.social_case["id"]))
        await db.commit()
        r = await client.get(
            f"{BASE}/{request['id']}/export.json", headers=scene.world.auditor.headers
        )
        assert r.status_code == 200, r.text
        by_case = {c["case_id"]: c for c in r.json()["cases"]}
        social = by_case[scene.social_case["id"]]
        assert [i["note"] for i in social["incidents"]] == [SHREDDED_TEXT]
        assert social["facts"] is None
        assert by_case[scene.police_case["id"]]["role"] == "victim"  # the other case exports
        assert "Subjektinen" in r.text  # the identity is the field key's, not the case's


async def test_the_judgements_text_exports_and_reads_as_destroyed_once_shredded(
    client: httpx.AsyncClient, db: AsyncSession, scene: Scene
) -> None:
    """Revision 0026: the judgement's text is sealed; the export opens it, and once
    the case was shredded shows it as destroyed while the codes stay."""
    reasons = "Threats with a knife; she minimises them."
    payload = answers.marak(1, professional_judgement="refer_high_risk", judgement_reasons=reasons)
    await assess(client, scene.world.social_worker, scene.social_case["id"], payload)
    request = await approved(client, scene)
    url = f"{BASE}/{request['id']}/export.json"

    async def judgement() -> dict[str, Any]:
        r = await client.get(url, headers=scene.world.auditor.headers)
        assert r.status_code == 200, r.text
        social = next(c for c in r.json()["cases"] if c["case_id"] == scene.social_case["id"])
        (assessment,) = social["assessments"]
        return dict(assessment["judgement"])

    assert await judgement() == payload["judgement"]
    await shred_case_key(db, uuid.UUID(scene.social_case["id"]))
    await db.commit()
    assert await judgement() == {
        "professional_judgement": "refer_high_risk",
        "judgement_reasons": SHREDDED_TEXT,
    }

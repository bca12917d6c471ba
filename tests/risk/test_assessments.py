"""Assessments through the API: drafts, submission, immutability, validation, access, audit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.platform.db import utcnow
from app.platform.extensions import registries_of
from app.risk.models import ImmutableRecord
from app.worklist.registry import TaskProviders
from tests.cases.factories import make_case
from tests.problems import assert_problem
from tests.risk.answers import ankkuri, hah, marak
from tests.risk.factories import ASSESSMENTS, assess, make_assessment
from tests.world import World, open_case


def one(assessment_id: object) -> str:
    return f"/api/v1/assessments/{assessment_id}"


def with_etag(headers: dict[str, str], version: int) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"'}


class TestDraftThenSubmit:
    async def test_a_draft_is_saved_completed_later_and_then_immutable(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        partial = marak(14)
        partial["answers"] = partial["answers"][:10]
        r = await client.post(
            ASSESSMENTS.format(case["id"]), json=partial, headers=world.police.headers
        )
        assert r.status_code == 201, r.text
        draft = r.json()
        assert (draft["status"], draft["score"], draft["criteria"]) == ("draft", 10, None)
        assert r.headers["location"] == one(draft["id"])
        assert r.headers["etag"] == f'"{draft["version"]}"'
        h = world.police.headers
        # Submitting an incomplete draft names every missing item.
        body = assert_problem(
            await client.post(one(draft["id"]) + "/submit", headers=with_etag(h, 1)), 422
        )
        assert {e["reason"] for e in body["errors"]} == {"missing_required"}
        assert len(body["errors"]) == 14
        r = await client.patch(
            one(draft["id"]), json={"answers": marak(14)["answers"]}, headers=with_etag(h, 1)
        )
        assert r.status_code == 200, r.text
        assert r.json()["score"] == 14 and r.json()["version"] == 2
        r = await client.post(one(draft["id"]) + "/submit", headers=with_etag(h, 2))
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"] == "submitted" and done["referral_criteria_met"] is True
        assert done["submitted_at"] and done["assessed_on"]
        version = done["version"]
        r = await client.patch(
            one(draft["id"]), json={"judgement": {}}, headers=with_etag(h, version)
        )
        assert assert_problem(r, 409)["type"].endswith("/assessment-submitted")
        r = await client.post(one(draft["id"]) + "/submit", headers=with_etag(h, version))
        assert_problem(r, 409)

    async def test_a_change_needs_the_current_etag(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        draft = await assess(client, world.police, case["id"], marak(3), submit=False)
        h = world.police.headers
        assert_problem(await client.patch(one(draft["id"]), json={}, headers=h), 428)
        assert_problem(await client.post(one(draft["id"]) + "/submit", headers=h), 428)
        r = await client.patch(one(draft["id"]), json={}, headers=with_etag(h, 9))
        assert_problem(r, 412)

    async def test_answers_display_with_the_labels_of_the_pinned_version(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.hah)
        body = await assess(client, world.police, case["id"], hah(priority="high"))
        r = await client.get(one(body["id"]), params={"lang": "en"}, headers=world.police.headers)
        assert r.status_code == 200, r.text
        read = r.json()
        assert read["instrument"]["code"] == "hah-warning-behaviours"
        assert read["instrument"]["content_hash"].startswith("sha256:")
        assert read["language"] == "en" and read["answers"][0]["value_label"] == "absent"
        assert read["answers"][0]["evidence"] == "Not seen."
        assert read["summary"]["priority"] == "high"
        sv = await client.get(one(body["id"]), params={"lang": "sv"}, headers=world.police.headers)
        assert sv.json()["answers"][0]["value_label"] == "förekommer inte"

    async def test_an_idempotent_retry_returns_the_first_assessment(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        headers = {**world.police.headers, "Idempotency-Key": "checklist-1"}
        url = ASSESSMENTS.format(case["id"])
        first = await client.post(url, json=marak(2), headers=headers)
        again = await client.post(url, json=marak(2), headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"


class TestImmutability:
    async def test_the_orm_refuses_to_change_a_submitted_assessment(
        self, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.marak, world.police)
        submitted = await make_assessment(db, made, world.police, status="submitted")
        await db.commit()
        submitted.score = 24
        with pytest.raises(ImmutableRecord):
            await db.flush()
        await db.rollback()

    async def test_a_draft_may_change(self, db: AsyncSession, world: World) -> None:
        made = await make_case(db, world.marak, world.police)
        draft = await make_assessment(db, made, world.police)
        draft.judgement = {"professional_judgement": "refer_high_risk"}
        await db.flush()
        assert draft.version == 2


BAD: list[tuple[str, Any]] = [
    ("an invalid answer", lambda p: p["answers"][0].update(value="maybe")),
    ("an unknown item", lambda p: p["answers"].append({"item": "lottery_win", "value": "yes"})),
    ("a missing required item", lambda p: p["answers"].pop()),
    ("a client-sent score", lambda p: p.update(score=24)),
    ("client-sent criteria", lambda p: p.update(criteria=[])),
    ("a client-sent risk level", lambda p: p.update(risk_level="low")),
    ("an extra field", lambda p: p.update(assessor_id="00000000-0000-0000-0000-000000000000")),
    ("an extra answer field", lambda p: p["answers"][0].update(weight=3)),
    ("an unknown judgement field", lambda p: p["judgement"].update(mood="calm")),
    ("a detail the instrument does not use", lambda p: p["answers"][0].update(evidence="x")),
    ("an unknown instrument version", lambda p: p.update(instrument_version=9)),
    ("another scheme's instrument", lambda p: p.update(ankkuri())),
]


class TestValidation:
    @pytest.mark.parametrize(("what", "spoil"), BAD, ids=[b[0] for b in BAD])
    async def test_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, world: World, what: str, spoil: Any
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        payload = {**marak(5), "submit": True}
        spoil(payload)
        r = await client.post(
            ASSESSMENTS.format(case["id"]), json=payload, headers=world.police.headers
        )
        body = assert_problem(r, 422)
        assert body["errors"], body
        listed = await client.get(ASSESSMENTS.format(case["id"]), headers=world.police.headers)
        assert listed.json()["items"] == []

    async def test_the_score_refusal_says_why(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        r = await client.post(
            ASSESSMENTS.format(case["id"]),
            json={**marak(5), "score": 5},
            headers=world.police.headers,
        )
        assert "computed by the server" in assert_problem(r, 422)["errors"][0]["message"]

    async def test_a_closed_case_is_not_assessed(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.marak, world.police, status="closed")
        made.closed_at = utcnow()
        await db.commit()
        r = await client.post(
            ASSESSMENTS.format(made.id), json=marak(3), headers=world.police.headers
        )
        assert_problem(r, 409)


class TestAccess:
    async def test_every_read_and_write_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        body = await assess(client, world.police, case["id"], marak(14))
        await client.get(one(body["id"]), headers=world.police.headers)
        await client.get(ASSESSMENTS.format(case["id"]), headers=world.police.headers)
        await client.get(f"/api/v1/cases/{case['id']}/risk", headers=world.police.headers)
        await client.get(one(body["id"]), headers=world.health.headers)
        rows = (
            await db.execute(
                select(AuditEvent.action, AuditEvent.outcome, AuditEvent.target_id).where(
                    AuditEvent.action.in_(
                        [
                            "assessment.created",
                            "assessment.submitted",
                            "assessment.read",
                            "assessment.listed",
                            "case.risk.read",
                            "case.risk.updated",
                            "case.assessment.read",
                        ]
                    ),
                    AuditEvent.actor_id.in_([world.police.id, world.health.id]),
                )
            )
        ).all()
        seen = {(a, o) for a, o, _ in rows}
        assert seen == {
            ("assessment.created", "allowed"),
            ("assessment.submitted", "allowed"),
            ("case.risk.updated", "allowed"),
            ("assessment.read", "allowed"),
            ("assessment.listed", "allowed"),
            ("case.risk.read", "allowed"),
            ("case.assessment.read", "denied"),
        }


class TestTasks:
    async def test_my_unfinished_drafts_are_tasks_of_mine_only(
        self, app: Any, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.marak, world.police)
        draft = await make_assessment(db, made, world.police)
        await make_assessment(db, made, world.police, status="submitted")
        await db.commit()
        provider = registries_of(app).of(TaskProviders).get("risk.draft_assessments")

        tasks = await provider(db, world.police.principal(), utcnow())
        assert [(t.kind, t.target_id, t.case_reference) for t in tasks] == [
            ("draft_assessment", draft.id, made.reference)
        ]
        assert "marak-ric@1" in tasks[0].title
        assert await provider(db, world.health.principal(), utcnow()) == []

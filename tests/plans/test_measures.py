"""Measures: who may change their status, cancellation reasons, audit of every change."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import CaseExclusion
from tests.plans.factories import MarakCase, api_measure, api_plan
from tests.world import World


async def _status(
    client: httpx.AsyncClient, actor: object, cid: object, measure: dict, **body: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/cases/{cid}/plan/measures/{measure['id']}/status",
        json=body,
        headers={**actor.headers, "If-Match": measure["etag"]},  # type: ignore[attr-defined]
    )


class TestStatusRights:
    async def test_member_of_the_responsible_organisation_changes_status(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        m = await api_measure(client, world.police, cid, world.social.id)
        r = await _status(client, world.social_worker, cid, m, status="in_progress")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "in_progress"

    async def test_member_of_another_organisation_is_refused(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        # Owned by the police; the social worker (social services) is a plain member.
        m = await api_measure(client, world.police, cid, world.org.id)
        r = await _status(client, world.social_worker, cid, m, status="done")
        assert r.status_code == 403

    async def test_lead_changes_any_measure(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        m = await api_measure(client, world.police, cid, world.social.id)
        r = await _status(client, world.police, cid, m, status="done", outcome_note="Placed.")
        assert r.status_code == 200

    async def test_cancelling_needs_a_reason(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        m = await api_measure(client, world.police, cid, world.org.id)
        assert (await _status(client, world.police, cid, m, status="cancelled")).status_code == 422
        r = await _status(
            client, world.police, cid, m, status="cancelled", outcome_note="Victim moved away."
        )
        assert r.status_code == 200

    async def test_every_status_change_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        m = await api_measure(client, world.police, cid, world.org.id)
        r = await _status(client, world.police, cid, m, status="in_progress")
        m["etag"] = r.headers["etag"]
        await _status(client, world.police, cid, m, status="done")
        actions = (
            await db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_id == m["id"])
                .order_by(AuditEvent.occurred_at)
            )
        ).all()
        assert "plan.measure.status.planned.in_progress" in actions
        assert "plan.measure.status.in_progress.done" in actions

    async def test_refusal_is_audited_as_denied(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        m = await api_measure(client, world.police, cid, world.org.id)
        await _status(client, world.social_worker, cid, m, status="done")
        outcomes = (
            await db.scalars(select(AuditEvent.outcome).where(AuditEvent.target_id == m["id"]))
        ).all()
        assert "denied" in outcomes


class TestDefinitions:
    async def test_responsible_member_must_be_in_the_case_from_that_organisation(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        r = await client.post(
            f"/api/v1/cases/{cid}/plan/measures",
            json={
                "category": "peer_support",
                "description": "Weekly talks.",
                "responsible_organisation_id": str(world.org.id),
                "responsible_user_id": str(world.social_worker.id),
            },
            headers=world.police.headers,
        )
        assert r.status_code == 422
        ok = await api_measure(
            client, world.police, cid, world.social.id, responsible_user_id=str(world.advocate.id)
        )
        assert ok["responsible_user_id"] == str(world.advocate.id)

    async def test_excluded_organisation_cannot_own_a_measure(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        db.add(
            CaseExclusion(
                case_id=marak.case.id,
                organisation_id=world.other.id,
                reason_plain="Employs the perpetrator.",
                added_by=world.police.id,
            )
        )
        await db.commit()
        await api_plan(client, world.police, marak.case.id)
        r = await client.post(
            f"/api/v1/cases/{marak.case.id}/plan/measures",
            json={
                "category": "other",
                "description": "x",
                "responsible_organisation_id": str(world.other.id),
            },
            headers=world.police.headers,
        )
        assert r.status_code == 409

    async def test_draft_measure_can_be_edited_and_dropped(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        cid = marak.case.id
        await api_plan(client, world.police, cid)
        m = await api_measure(client, world.police, cid, world.org.id)
        url = f"/api/v1/cases/{cid}/plan/measures/{m['id']}"
        r = await client.patch(
            url,
            json={"due_date": "2030-02-01"},
            headers={**world.police.headers, "If-Match": m["etag"]},
        )
        assert r.status_code == 200 and r.json()["due_date"] == "2030-02-01"
        r = await client.patch(
            url,
            json={"remove": True},
            headers={**world.police.headers, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200
        listed = await client.get(
            f"/api/v1/cases/{cid}/plan/measures", headers=world.police.headers
        )
        assert listed.json() == []

"""Arrange plans and measures directly in the test's transaction (and via HTTP helpers),
and the Marak case most plan tests start from (the ``marak`` fixture in tests/conftest.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseExclusion, CaseParticipant
from app.persons.models import Person
from app.plans.models import Measure, Plan, PlanVersion
from app.plans.schemas import PLAN_KIND
from app.platform.db import utcnow
from tests.cases.factories import add_member, add_participant, add_person, make_case
from tests.persons.factories import add_consent
from tests.world import Actor, World


async def ensure_plan(
    db: AsyncSession,
    case: Case,
    by: Actor | None = None,
    *,
    agreed: bool = False,
    organisation_id: uuid.UUID | None = None,
    due: date | None = None,
    status: str = "planned",
) -> tuple[Plan, Measure]:
    """The case's plan with one measure (created once; agreed if asked)."""
    by_id = by.id if by is not None else case.created_by
    plan = await db.scalar(select(Plan).where(Plan.case_id == case.id))
    if plan is not None:
        measure = await db.scalar(select(Measure).where(Measure.plan_id == plan.id))
        assert measure is not None
        return plan, measure
    plan = Plan(case_id=case.id, kind=PLAN_KIND[case.scheme].value, created_by=by_id)  # type: ignore[index]
    db.add(plan)
    await db.flush()
    version = PlanVersion(
        plan_id=plan.id,
        number=1,
        # In plain text, as written before 0021/0024 (keys rotate seals them).
        summary_plain="Staying safe at home and at work.",
        contacts_plain=[{"label": "Support person", "phone": "040 123 4567"}],
        internal_note_plain="INTERNAL: police research shows prior calls.",  # as before 0021
        created_by=by_id,
    )
    db.add(version)
    measure = Measure(
        plan_id=plan.id,
        case_id=case.id,
        category="shelter",
        description_plain="Reserve a shelter place.",
        responsible_organisation_id=organisation_id or case.owner_organisation_id,
        due_date=due,
        status=status,
        added_in=1,
        created_by=by_id,
    )
    db.add(measure)
    await db.flush()
    if agreed:
        version.agreed_at = utcnow()
        version.agreed_by = by_id
        version.measures_snapshot_plain = [
            {
                "id": str(measure.id),
                "category": measure.category,
                "description": measure.description_plain,
                "responsible_organisation_id": str(measure.responsible_organisation_id),
                "responsible_user_id": None,
                "due_date": measure.due_date.isoformat() if measure.due_date else None,
            }
        ]
        await db.flush()
    return plan, measure


async def api_plan(
    client: httpx.AsyncClient, actor: Actor, case_id: Any, **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/api/v1/cases/{case_id}/plan", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return dict(r.json()) | {"etag": r.headers["etag"]}


async def api_measure(
    client: httpx.AsyncClient, actor: Actor, case_id: Any, org_id: Any, **body: Any
) -> dict[str, Any]:
    payload = {
        "category": "shelter",
        "description": "Reserve a shelter place.",
        "responsible_organisation_id": str(org_id),
        **body,
    }
    r = await client.post(
        f"/api/v1/cases/{case_id}/plan/measures", json=payload, headers=actor.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json()) | {"etag": r.headers["etag"]}


async def settle_measure(
    client: httpx.AsyncClient, actor: Actor, case_id: Any, note: str, status: str = "done"
) -> dict[str, Any]:
    """The case's only measure moved to ``status`` with ``note`` as its outcome."""
    url = f"/api/v1/cases/{case_id}/plan/measures"
    [measure] = (await client.get(url, headers=actor.headers)).json()
    r = await client.post(
        f"{url}/{measure['id']}/status",
        json={"status": status, "outcome_note": note},
        headers={**actor.headers, "If-Match": f'"{measure["version"]}"'},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def plan_etag(client: httpx.AsyncClient, actor: Actor, case_id: Any) -> str:
    r = await client.get(f"/api/v1/cases/{case_id}/plan", headers=actor.headers)
    assert r.status_code == 200, r.text
    return str(r.headers["etag"])


async def agree(
    client: httpx.AsyncClient, actor: Actor, case_id: Any, **body: Any
) -> httpx.Response:
    etag = await plan_etag(client, actor, case_id)
    return await client.post(
        f"/api/v1/cases/{case_id}/plan/agree",
        json=body,
        headers={**actor.headers, "If-Match": etag},
    )


@dataclass
class MarakCase:
    case: Case
    victim: Person
    perpetrator: Person
    victim_participant: CaseParticipant


async def marak_case(
    db: AsyncSession, world: World, status: str = "plan_active", *, consent: bool = True
) -> MarakCase:
    """Police lead; social worker, health worker, support person and coordinator members.
    The victim consented to Marak sharing unless ``consent=False``."""
    case = await make_case(db, world.marak, world.police, status=status)
    for actor in (world.social_worker, world.health, world.advocate, world.coordinator):
        await add_member(db, case, actor)
    victim = await add_person(db, world.police, "Aino", "Äyräpää")
    victim.preferred_language = "fi"
    participant = await add_participant(db, case, world.police, "victim", victim)
    if consent:
        await add_consent(db, victim.id, world.police)
    perpetrator = await add_person(db, world.police, "Pertti", "Pahanen")
    await add_participant(db, case, world.police, "perpetrator", perpetrator)
    db.add(
        CaseExclusion(
            case_id=case.id,
            person_id=perpetrator.id,
            reason_plain="The perpetrator.",
            added_by=world.police.id,
        )
    )
    await db.commit()
    return MarakCase(case, victim, perpetrator, participant)

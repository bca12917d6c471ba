"""The demo seed: one completed assessment per instrument on the demo cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from app.demo.seed import _seed
from app.platform.config import Settings
from app.risk.models import Assessment, ExternalAssessment, Incident


async def test_every_demo_case_has_a_submitted_assessment_and_its_risk(
    db: AsyncSession, settings: Settings
) -> None:
    assert await _seed(db, settings) > 0
    rows = (
        await db.execute(
            select(Case.reference, Case.risk_level, Assessment.instrument_code, Assessment.status)
            .join(Assessment, Assessment.case_id == Case.id)
            .order_by(Case.reference)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("ANK-DEMO-0001", None, "ankkuri-needs", "submitted"),
        ("HAH-DEMO-0001", "moderate", "hah-warning-behaviours", "submitted"),
        ("MRK-DEMO-0001", "high", "marak-ric", "submitted"),
    ]
    marak = await db.scalar(select(Assessment).where(Assessment.scheme == "marak"))
    assert marak is not None and marak.result is not None
    met = {c["criterion"] for c in marak.result["criteria"] if c["met"]}
    assert met == {"visible_high_risk", "potential_escalation"}
    incidents = await db.scalars(select(Incident.id).where(Incident.case_id == marak.case_id))
    assert len(incidents.all()) == 3
    tools = await db.scalars(select(ExternalAssessment.tool))
    assert tools.all() == ["wavr-21"]
    assert await _seed(db, settings) == 0  # idempotent

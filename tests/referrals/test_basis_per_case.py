"""Issue 11: a referral's basis is bound to the case (and service) it was given for."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import CaseParticipant
from tests.cases.factories import make_case
from tests.persons.factories import add_consent
from tests.referrals.conftest import API, ReferralWorld, referral_body
from tests.referrals.test_create import consent, record_basis, refused


async def test_a_basis_given_for_another_case_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    """Issue 11: the victim's referral consent, given to another case, does not
    authorise a referral from this one."""
    other_case = await make_case(db, rw.world.marak, rw.lead, status="plan_active")
    db.add(CaseParticipant(case_id=other_case.id, person_id=rw.victim.id, role="victim",
                           added_by=rw.lead.id))  # fmt: skip
    await db.flush()
    elsewhere = await add_consent(db, rw.victim.id, rw.lead, "service_referral", other_case.id)
    await db.commit()
    problem = await refused(client, rw, 422, basis_id=str(elsewhere.id))
    assert problem["errors"][0]["field"] == "basis_id"
    assert "in this case" in problem["detail"]


async def test_a_basis_bound_to_another_service_is_refused(
    client: httpx.AsyncClient, rw: ReferralWorld
) -> None:
    basis = await record_basis(
        client, rw, rw.victim.id, **{**consent("x"), "service_name": None,
                                     "service_id": str(rw.other_service.id)}
    )  # fmt: skip
    problem = await refused(client, rw, 422, basis_id=basis)
    assert "another service" in problem["detail"]
    ok = await record_basis(
        client, rw, rw.victim.id, **{**consent("x"), "service_name": None,
                                     "service_id": str(rw.service.id)}
    )  # fmt: skip
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json=referral_body(rw, basis_id=ok),
        headers=rw.lead.headers,
    )
    assert r.status_code == 201, r.text

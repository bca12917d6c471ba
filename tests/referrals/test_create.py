"""Making a referral: what is refused when it is created, and again when it is sent.

A refusal creates nothing; refusals about the legal basis or the
must-not-receive list are audited as denied.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import PROFESSIONALS
from app.auth.predicates import OWN_ORGANISATION_PROTECTED_ROLES, PROTECTED_FIELD_ROLES
from app.auth.principal import Role
from tests.cases.factories import add_member, add_participant, make_case
from tests.persons.factories import add_consent
from tests.problems import assert_problem
from tests.referrals.conftest import (
    API,
    ReferralWorld,
    add_service,
    case_referrals,
    create,
    move,
    referral_body,
)
from tests.world import Actor, TokenFactory, make_user


async def denials(db: AsyncSession, actor: Actor, action: str) -> int:
    rows = select(func.count()).select_from(AuditEvent)
    where = (AuditEvent.actor_id == actor.id, AuditEvent.action == action)
    return int(await db.scalar(rows.where(*where, AuditEvent.outcome == "denied")) or 0)


async def refused(
    client: httpx.AsyncClient, rw: ReferralWorld, want: int, **overrides: Any
) -> dict[str, Any]:
    """POST the referral: refused with ``want``, and nothing was created."""
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json=referral_body(rw, **overrides),
        headers=rw.lead.headers,
    )
    body = assert_problem(r, want)
    assert await case_referrals(client, rw) == []
    return body


async def record_basis(
    client: httpx.AsyncClient, rw: ReferralWorld, person_id: uuid.UUID, **body: Any
) -> str:
    """A basis recorded through the consents API by the lead; returns its id."""
    body = {"case_id": str(rw.case.id), **body}
    r = await client.post(f"{API}/persons/{person_id}/consents", json=body, headers=rw.lead.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def consent(service_name: str) -> dict[str, Any]:
    return {"basis": "consent", "scope": "service_referral", "service_name": service_name,
            "given_by": "person", "method": "written"}  # fmt: skip


async def withdraw(client: httpx.AsyncClient, rw: ReferralWorld, consent_id: Any) -> None:
    r = await client.post(
        f"{API}/persons/{rw.victim.id}/consents/{consent_id}/withdrawal",
        json={"note": "Withdrawn on the phone."},
        headers=rw.lead.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False


async def exclude_provider(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    r = await client.post(
        f"{API}/cases/{rw.case.id}/must-not-receive",
        json={"organisation_id": str(rw.provider_org.id), "reason": "Employs the perpetrator."},
        headers=rw.lead.headers,
    )
    assert r.status_code == 201, r.text


# --- the legal basis -------------------------------------------------------------------


async def test_basis_is_required(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    body = referral_body(rw)
    del body["basis_id"]
    r = await client.post(f"{API}/cases/{rw.case.id}/referrals", json=body, headers=rw.lead.headers)
    assert_problem(r, 422)
    assert await case_referrals(client, rw) == []


@pytest.mark.parametrize(
    "kind", ["unknown", "other_person", "other_scope", "other_service", "withdrawn"]
)
async def test_invalid_basis_is_refused_and_audited(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, kind: str
) -> None:
    if kind == "unknown":
        basis_id: Any = uuid.uuid4()
    elif kind == "other_person":
        basis_id = (await add_consent(db, rw.perpetrator.id, rw.lead, "service_referral")).id
    elif kind == "other_scope":
        basis_id = (await add_consent(db, rw.victim.id, rw.lead, "marak_sharing")).id
    elif kind == "other_service":
        basis_id = await record_basis(client, rw, rw.victim.id, **consent(rw.other_service.name))
    else:
        basis_id = await record_basis(client, rw, rw.victim.id, **consent(rw.service.name))
        await withdraw(client, rw, basis_id)
    await db.commit()
    problem = await refused(client, rw, 422, basis_id=str(basis_id))
    assert problem["errors"][0]["field"] == "basis_id"
    rows = await db.scalars(
        select(AuditEvent).where(
            AuditEvent.actor_id == rw.lead.id, AuditEvent.action == "referral.basis"
        )
    )
    assert [(e.outcome, e.target_type, e.target_id) for e in rows] == [
        ("denied", "person", str(rw.victim.id))
    ]


async def test_statutory_basis_is_accepted(client: httpx.AsyncClient, rw: ReferralWorld) -> None:
    basis_id = await record_basis(
        client,
        rw,
        rw.victim.id,
        basis="child_welfare_act_25",
        scope="service_referral",
        service_name=rw.service.name,
        reference="LSL 25 § notification 2024-117",
    )
    draft = await create(client, rw, basis_id=basis_id)
    assert (draft["basis_id"], draft["basis_kind"]) == (basis_id, "child_welfare_act_25")
    ref = await move(client, rw.lead, draft, "requested")
    assert ref.status_code == 200, ref.text


# --- who is referred, and who receives ----------------------------------------------------


async def test_subject_must_be_a_participant(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    other_case = await make_case(db, rw.world.marak, rw.lead, status="plan_active")
    stranger = await add_participant(db, other_case, rw.lead)
    basis = await add_consent(db, stranger.person_id, rw.lead, "service_referral")
    await db.commit()
    problem = await refused(
        client, rw, 422, subject_person_id=str(stranger.person_id), basis_id=str(basis.id)
    )
    assert problem["errors"][0]["field"] == "subject_person_id"


async def test_subject_on_must_not_receive_list_is_409(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    basis = await add_consent(db, rw.perpetrator.id, rw.lead, "service_referral")
    await db.commit()
    problem = await refused(
        client, rw, 409, subject_person_id=str(rw.perpetrator.id), basis_id=str(basis.id)
    )
    assert problem["type"].endswith("/must-not-receive")
    assert await denials(db, rw.lead, "referral.disclose") == 1


async def test_provider_organisation_on_must_not_receive_list_is_409(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    await exclude_provider(client, rw)
    problem = await refused(client, rw, 409)
    assert problem["type"].endswith("/must-not-receive")
    assert await denials(db, rw.lead, "referral.disclose") == 1


# --- sending checks again --------------------------------------------------------------


async def _stays_draft(client: httpx.AsyncClient, rw: ReferralWorld, draft: dict[str, Any]) -> None:
    r = await client.get(f"{API}/referrals/{draft['id']}", headers=rw.lead.headers)
    assert r.status_code == 200, r.text
    now = r.json()
    assert (now["status"], now["version"], now["shared"]) == ("draft", draft["version"], None)
    assert now["sent_at"] is None and now["response_due_at"] is None
    r = await client.get(f"{API}/referrals/{draft['id']}", headers=rw.provider.headers)
    assert_problem(r, 404)


async def test_sending_after_consent_withdrawn_is_422(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    draft = await create(client, rw)
    await withdraw(client, rw, rw.consent.id)
    r = await move(client, rw.lead, draft, "requested")
    assert assert_problem(r, 422)["errors"][0]["field"] == "basis_id"
    await _stays_draft(client, rw, draft)
    assert await denials(db, rw.lead, "referral.basis") == 1
    disclosed = AuditEvent.action == "referral.disclosed", AuditEvent.purpose.contains(draft["id"])
    assert (await db.scalars(select(AuditEvent.id).where(*disclosed))).all() == []


async def test_sending_after_provider_excluded_is_409(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    draft = await create(client, rw)
    await exclude_provider(client, rw)
    r = await move(client, rw.lead, draft, "requested")
    assert assert_problem(r, 409)["type"].endswith("/must-not-receive")
    await _stays_draft(client, rw, draft)
    assert await denials(db, rw.lead, "referral.disclose") == 1


# --- protected shared fields -----------------------------------------------------------


@pytest.mark.parametrize("field", ["identity_code", "phone"])
@pytest.mark.parametrize("role", sorted(PROFESSIONALS - PROTECTED_FIELD_ROLES))
async def test_protected_fields_need_a_role_that_sees_them(
    client: httpx.AsyncClient,
    db: AsyncSession,
    tokens: TokenFactory,
    rw: ReferralWorld,
    role: Role,
    field: str,
) -> None:
    # Of an organisation other than the case's owner: the policy keeps them from
    # seeing protected fields in this case.
    assert role not in PROTECTED_FIELD_ROLES
    assert rw.world.social.id != rw.case.owner_organisation_id
    worker = await make_user(db, tokens, rw.world.social, role.value)
    await add_member(db, rw.case, worker)
    await db.commit()
    r = await client.post(
        f"{API}/cases/{rw.case.id}/referrals",
        json=referral_body(rw, shared_fields=["name", field]),
        headers=worker.headers,
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "shared_fields"
    assert await case_referrals(client, rw) == []
    # Without the protected field the same member may refer, but neither add it
    # later nor send a police officer's draft that holds it.
    ok = await create(client, rw, worker, shared_fields=["name"])
    assert ok["created_by"] == str(worker.id)
    r = await client.patch(
        f"{API}/referrals/{ok['id']}",
        json={"shared_fields": ["name", field]},
        headers={**worker.headers, "If-Match": f'"{ok["version"]}"'},
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "shared_fields"
    police_draft = await create(client, rw, shared_fields=[field])
    r = await move(client, worker, police_draft, "requested")
    assert assert_problem(r, 422)["errors"][0]["field"] == "shared_fields"
    await _stays_draft(client, rw, police_draft)


async def test_protected_fields_from_roles_that_see_them(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, rw: ReferralWorld
) -> None:
    fields = ["name", "identity_code", "phone"]
    draft = await create(client, rw, shared_fields=fields)  # the police lead
    assert draft["shared_fields"] == fields
    assert Role.HEALTH_WORKER in OWN_ORGANISATION_PROTECTED_ROLES
    owner_org = rw.world.org
    assert owner_org.id == rw.case.owner_organisation_id
    nurse = await make_user(db, tokens, owner_org, "health_worker")
    await add_member(db, rw.case, nurse)
    await db.commit()
    assert (await create(client, rw, nurse, shared_fields=fields))["shared_fields"] == fields


# --- the service, the case, the body ---------------------------------------------------


@pytest.mark.parametrize("kind", ["inactive", "no_electronic", "unknown"])
async def test_service_must_take_electronic_referrals(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld, kind: str
) -> None:
    if kind == "unknown":
        service_id: Any = uuid.uuid4()
    else:
        fields = (
            {"active": False} if kind == "inactive" else {"accepts_electronic_referrals": False}
        )
        service_id = (await add_service(db, rw.provider_org, **fields)).id
        await db.commit()
    problem = await refused(client, rw, 422, service_id=str(service_id))
    assert problem["errors"][0]["field"] == "service_id"


async def test_closed_case_takes_no_referrals(
    client: httpx.AsyncClient, db: AsyncSession, rw: ReferralWorld
) -> None:
    rw.case.status = "closed"
    await db.commit()
    await refused(client, rw, 409)


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "requested"},
        {"provider_organisation_id": str(uuid.uuid4())},
        {"shared": {"name": "Someone Else"}},
        {"case_id": str(uuid.uuid4())},
        {"basis_kind": "police_statutory_duty"},
        {"version": 9},
    ],
)
async def test_mass_assignment_is_422(
    client: httpx.AsyncClient, rw: ReferralWorld, extra: dict[str, Any]
) -> None:
    await refused(client, rw, 422, **extra)


@pytest.mark.parametrize(
    "fields", [[], ["name", "name"], ["name", "address"], ["name", "Name"]], ids=str
)
async def test_shared_fields_are_a_unique_known_nonempty_list(
    client: httpx.AsyncClient, rw: ReferralWorld, fields: list[str]
) -> None:
    await refused(client, rw, 422, shared_fields=fields)

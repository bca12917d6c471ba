"""A Marak group runs a whole cycle through the API (on SQLite and on PostgreSQL):

checklist -> referral with consent -> agenda -> meeting -> minutes -> safety plan
with measures for three organisations -> measures done -> review -> close.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.db import utcnow
from tests.persons.factories import consenting_victim, record_person
from tests.risk.answers import marak
from tests.risk.factories import assess
from tests.world import Actor, TokenFactory, World, make_org, make_user, open_case


class Flow:
    """A tiny driver that keeps ETags and asserts every step succeeds."""

    def __init__(self, client: httpx.AsyncClient, case_id: str) -> None:
        self.client = client
        self.case_id = case_id

    async def call(
        self, method: str, url: str, actor: Actor, want: int = 200, **kw: Any
    ) -> httpx.Response:
        r = await self.client.request(
            method, url, headers={**actor.headers, **kw.pop("headers", {})}, **kw
        )
        assert r.status_code == want, f"{method} {url}: {r.status_code} {r.text}"
        return r

    async def etag(self, url: str, actor: Actor) -> str:
        return str((await self.call("GET", url, actor)).headers["etag"])

    async def move(self, actor: Actor, to: str, **body: Any) -> dict[str, Any]:
        url = f"/api/v1/cases/{self.case_id}"
        etag = await self.etag(url, actor)
        r = await self.call(
            "POST", url + "/transitions", actor, json={"to": to, **body}, headers={"If-Match": etag}
        )
        return dict(r.json())


async def test_marak_cycle_end_to_end(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World
) -> None:
    # A third agency: the wellbeing services county's health care.
    health_org = await make_org(db, "health_services")
    nurse = await make_user(db, tokens, health_org, "health_worker", teams=(world.marak,))
    await db.commit()
    police, social, coordinator = world.police, world.social_worker, world.coordinator

    # 1. The police officer who met the victim opens the case and fills in the checklist.
    case = await open_case(client, police, world.marak)
    cid = case["id"]
    flow = Flow(client, cid)
    for member in (social, nurse, world.advocate, coordinator):
        await flow.call(
            "POST", f"/api/v1/cases/{cid}/members", police, 201, json={"user_id": str(member.id)}
        )
    victim_id = await consenting_victim(
        client, police, cid, given_name="Aino", family_name="Äyräpää", preferred_language="sv"
    )
    perpetrator = await record_person(
        client, police, cid, "perpetrator", given_name="Pertti", family_name="Pahanen"
    )
    await flow.call(
        "POST",
        f"/api/v1/cases/{cid}/must-not-receive",
        police,
        201,
        json={"person_id": perpetrator["person"]["id"], "reason": "The perpetrator."},
    )
    checklist = await assess(client, police, cid, marak(15))
    assert checklist["referral_criteria_met"] is True

    # 2. Referral with the victim's consent.
    referred = await flow.move(
        police, "referred", consent={"victim_aware": True, "consent_given": True}
    )
    assert referred["status"] == "referred"

    # 3. The coordinator puts it on the next monthly meeting's agenda.
    meeting = (
        await flow.call(
            "POST",
            "/api/v1/meetings",
            coordinator,
            201,
            json={"team_id": str(world.marak.id), "scheduled_at": "2030-01-15T09:00:00Z"},
        )
    ).json()
    mid = meeting["id"]
    await flow.call(
        "POST", f"/api/v1/meetings/{mid}/agenda", coordinator, 201, json={"case_id": cid}
    )
    assert (await flow.call("GET", f"/api/v1/cases/{cid}", police)).json()["status"] == "on_agenda"

    # 4. The meeting: three agencies attend, the case is discussed.
    for org in (world.org, world.social, health_org):
        await flow.call(
            "POST",
            f"/api/v1/meetings/{mid}/attendance",
            coordinator,
            json={"organisation_id": str(org.id)},
        )
    await flow.move(coordinator, "meeting")

    # 5. Minutes: facts apart from opinions, what was not shared and why, decisions, actions.
    minutes = f"/api/v1/meetings/{mid}/minutes"
    not_shared = {"kind": "not_shared", "text": "Psychiatric history.", "reason": "Not needed."}
    entries = [
        (police, {"kind": "shared", "information_kind": "fact", "text": "Three call-outs."}),
        (social, {"kind": "shared", "information_kind": "opinion", "text": "Children afraid."}),
        (nurse, not_shared),
        (coordinator, {"kind": "decision", "text": "A safety plan is agreed today."}),
    ]
    due = (utcnow() + timedelta(days=5)).date().isoformat()
    actions = [
        (police, world.org, "restraining_order", "Help apply for a restraining order."),
        (social, world.social, "shelter", "Shelter place for the victim and the children."),
        (nurse, health_org, "health_care", "Appointment for the injuries and sleep."),
    ]
    for actor, org, category, text in actions:
        entries.append(
            (
                actor,
                {
                    "kind": "action",
                    "text": text,
                    "measure": {
                        "category": category,
                        "description": text,
                        "responsible_organisation_id": str(org.id),
                        "due_date": due,
                    },
                },
            )
        )
    for actor, body in entries:
        await flow.call("POST", minutes, actor, 201, json={"case_id": cid, **body})

    # 6. The safety plan: the lead completes it, the coordinator agrees it in the meeting.
    plan_url = f"/api/v1/cases/{cid}/plan"
    await flow.call(
        "PATCH",
        plan_url,
        police,
        json={
            "summary": "Du och barnen kan bo på skyddshemmet.",
            "contacts": [{"label": "Stödperson Sari", "phone": "040 111 2222"}],
            "safe_contact": {"number_is_safe": False, "safe_number": "050 765 4321"},
            "internal_note": "INTERNAL: police research.",
        },
        headers={"If-Match": await flow.etag(plan_url, police)},
    )
    agreed = await flow.call(
        "POST",
        plan_url + "/agree",
        coordinator,
        json={"meeting_id": mid},
        headers={"If-Match": await flow.etag(plan_url, coordinator)},
    )
    plan = agreed.json()
    assert plan["current"]["status"] == "agreed"
    assert {m["responsible_organisation_id"] for m in plan["measures"]} == {
        str(world.org.id),
        str(world.social.id),
        str(health_org.id),
    }
    await flow.move(coordinator, "plan_active")
    meeting_etag = await flow.etag(f"/api/v1/meetings/{mid}", coordinator)
    await flow.call(
        "POST", f"/api/v1/meetings/{mid}/close", coordinator, headers={"If-Match": meeting_etag}
    )
    document = await flow.call(
        "GET", plan_url + "/document", world.advocate, params={"format": "pdf"}
    )
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(document.content)).pages)
    assert "Säkerhetsplan" in text and "Shelter place for the victim" in text
    assert "Pertti" not in text and "INTERNAL" not in text
    await flow.call(
        "GET",
        plan_url + "/document",
        police,
        409,
        params={"recipient_person_id": perpetrator["person"]["id"]},
    )
    assert victim_id

    # 7. Each agency sees its measure in /me/tasks and marks it done.
    owners = {str(world.org.id): police, str(world.social.id): social, str(health_org.id): nurse}
    for measure in plan["measures"]:
        owner = owners[measure["responsible_organisation_id"]]
        tasks = (await flow.call("GET", "/api/v1/me/tasks", owner)).json()
        assert measure["id"] in {t["target_id"] for t in tasks}
        await flow.call(
            "POST",
            f"{plan_url}/measures/{measure['id']}/status",
            owner,
            json={"status": "done", "outcome_note": "Done as agreed."},
            headers={"If-Match": f'"{measure["version"]}"'},
        )

    # 8. Monitoring and the review.
    await flow.move(police, "monitoring")
    await flow.call(
        "POST",
        plan_url + "/review",
        police,
        json={"note": "All measures done; the victim feels safe.", "next_review_at": None},
        headers={"If-Match": await flow.etag(plan_url, police)},
    )

    # 9. Close: the gates (outcome, open measures) pass.
    closed = await flow.move(
        police, "closed", outcome="risk_reduced", reason="Risk reduced; all measures done."
    )
    assert closed["status"] == "closed"
    tasks = (await flow.call("GET", "/api/v1/me/tasks", police)).json()
    assert cid not in {t["case_id"] for t in tasks}

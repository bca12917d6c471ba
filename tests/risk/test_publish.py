"""Publishing instrument versions through the API, and version pinning of assessments."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import Action
from app.risk.models import ImmutableRecord, StoredInstrument
from tests.problems import assert_problem
from tests.risk.answers import definition, marak
from tests.risk.factories import assess
from tests.world import World, denied, open_case

PUBLISH = "/api/v1/instruments"


def marak_v2() -> dict[str, Any]:
    """A "licensed" v2: different items (16 of v1's topics, 4 new ones), threshold 10."""
    data = definition("marak-ric").model_dump(mode="json", exclude_unset=True)
    data = copy.deepcopy(data)
    data["version"] = 2
    data["items"] = data["items"][:16] + [
        {
            "code": f"licensed_{n}",
            "section": "checklist",
            "label": {"fi": f"Kysymys {n}", "sv": f"Fråga {n}", "en": f"Question {n}"},
        }
        for n in range(1, 5)
    ]
    data["scoring"]["threshold"] = 10
    data["title"]["en"] = "Marak checklist, licensed wording (test)"
    return data


def v2_answers(yes: int) -> dict[str, Any]:
    items = [i["code"] for i in marak_v2()["items"]]
    return {
        "instrument_code": "marak-ric",
        "instrument_version": 2,
        "answers": [{"item": c, "value": "yes" if n < yes else "no"} for n, c in enumerate(items)],
        "judgement": {},
    }


@pytest.fixture
async def admin(make_actor: Any) -> Any:
    return await make_actor("admin", org="casecoord-ops")


class TestPublish:
    async def test_an_admin_publishes_a_new_version_and_everyone_can_read_it(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, admin: Any
    ) -> None:
        r = await client.post(PUBLISH, json=marak_v2(), headers=admin.headers)
        assert r.status_code == 201, r.text
        assert r.headers["location"] == "/api/v1/instruments/marak-ric/2"
        published = r.json()
        assert published["content_hash"].startswith("sha256:")
        listed = await client.get(PUBLISH, headers=world.police.headers)
        keys = [(i["code"], i["version"]) for i in listed.json()["items"]]
        assert ("marak-ric", 1) in keys and ("marak-ric", 2) in keys
        got = await client.get("/api/v1/instruments/marak-ric/2", headers=world.police.headers)
        assert got.json()["content_hash"] == published["content_hash"]
        assert got.json()["scoring"]["threshold"] == 10
        events = await db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id))
        assert "instrument.published" in list(events)

    @pytest.mark.parametrize("role", denied(Action.INSTRUMENT_PUBLISH))
    async def test_other_roles_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await make_actor(role, scope="me.read instrument.read instrument.publish")
        assert_problem(await client.post(PUBLISH, json=marak_v2(), headers=actor.headers), 403)

    async def test_a_published_version_never_changes(
        self, client: httpx.AsyncClient, db: AsyncSession, admin: Any
    ) -> None:
        assert (
            await client.post(PUBLISH, json=marak_v2(), headers=admin.headers)
        ).status_code == 201
        changed = marak_v2()
        changed["scoring"]["threshold"] = 9
        r = await client.post(PUBLISH, json=changed, headers=admin.headers)
        assert assert_problem(r, 409)["type"].endswith("/instrument-version-exists")
        shipped = definition("marak-ric").model_dump(mode="json", exclude_unset=True)
        assert_problem(await client.post(PUBLISH, json=shipped, headers=admin.headers), 409)
        row = await db.scalar(select(StoredInstrument).where(StoredInstrument.version == 2))
        assert row is not None
        row.definition = {**row.definition, "licence": "changed"}
        with pytest.raises(ImmutableRecord):
            await db.flush()
        await db.rollback()

    @pytest.mark.parametrize(
        "spoil",
        [
            lambda d: d["title"].pop("sv"),
            lambda d: d["items"][0]["label"].update(en=" "),
            lambda d: d.update(score=3),
            lambda d: d["judgement_fields"].pop(0),  # the Marak contract
            lambda d: d.update(scheme="hah"),  # hah contract and a changed scheme
            lambda d: d["scoring"].update(threshold=99),
        ],
        ids=["no-swedish", "blank-label", "extra-field", "contract", "scheme", "threshold"],
    )
    async def test_an_invalid_definition_is_422(
        self, client: httpx.AsyncClient, admin: Any, spoil: Any
    ) -> None:
        data = marak_v2()
        spoil(data)
        assert_problem(await client.post(PUBLISH, json=data, headers=admin.headers), 422)

    async def test_a_code_keeps_its_scheme(self, client: httpx.AsyncClient, admin: Any) -> None:
        data = definition("hah-warning-behaviours").model_dump(mode="json", exclude_unset=True)
        data.update(code="marak-ric", version=3)
        body = assert_problem(await client.post(PUBLISH, json=data, headers=admin.headers), 422)
        assert body["errors"][0]["reason"] == "scheme_changed"


class TestVersionPinning:
    async def test_old_assessments_keep_their_version_after_v2_is_published(
        self, client: httpx.AsyncClient, world: World, admin: Any
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        old = await assess(client, world.police, case["id"], marak(12))
        assert (
            await client.post(PUBLISH, json=marak_v2(), headers=admin.headers)
        ).status_code == 201
        r = await client.get(
            f"/api/v1/assessments/{old['id']}", params={"lang": "en"}, headers=world.police.headers
        )
        assert r.status_code == 200, r.text
        read = r.json()
        assert (read["instrument"]["code"], read["instrument"]["version"]) == ("marak-ric", 1)
        assert read["instrument"]["title"] == "Marak risk identification checklist (own wording)"
        assert len(read["answers"]) == 24 and read["answers"][-1]["item"] == "criminal_history"
        assert (read["score"], read["threshold"], read["referral_criteria_met"]) == (12, 14, False)
        # The v1 answer set does not fit v2 ...
        r = await client.post(
            f"/api/v1/cases/{case['id']}/assessments",
            json={**marak(12), "instrument_version": 2, "submit": True},
            headers=world.police.headers,
        )
        reasons = {e["reason"] for e in assert_problem(r, 422)["errors"]}
        assert reasons == {"unknown_item", "missing_required"}
        # ... and v2's own threshold decides under v2.
        new = await assess(client, world.police, case["id"], v2_answers(12))
        assert (new["instrument_version"], new["threshold"], new["score"]) == (2, 10, 12)
        assert new["referral_criteria_met"] is True
        assert new["answers"][-1]["label"] == "Kysymys 4"

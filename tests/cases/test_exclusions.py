"""Must-not-receive lists, and the one function that answers "may X receive this?"."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.exclusions import Party, may_receive
from tests.persons.factories import record_person
from tests.problems import assert_problem
from tests.world import TokenFactory, World, make_org, make_user, open_case, with_etag


def url(case: dict[str, Any]) -> str:
    return f"/api/v1/cases/{case['id']}/must-not-receive"


class TestMayReceive:
    async def test_listed_person_organisation_and_its_users_may_not_receive(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        tokens: TokenFactory,
        world: World,
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        case_id = uuid.UUID(case["id"])
        perpetrator = (await record_person(client, world.police, case["id"], "perpetrator"))[
            "person"
        ]
        relative_org = await make_org(db, "other")
        relative = await make_user(db, tokens, relative_org, "social_worker")
        await db.commit()
        pid = uuid.UUID(perpetrator["id"])
        assert await may_receive(db, case_id, Party(person_id=pid))
        for body in (
            {"person_id": perpetrator["id"], "reason": "The perpetrator."},
            {"organisation_id": str(relative_org.id), "reason": "His brother works there."},
        ):
            r = await client.post(url(case), json=body, headers=world.police.headers)
            assert r.status_code == 201, r.text
        assert not await may_receive(db, case_id, Party(person_id=pid))
        assert not await may_receive(db, case_id, Party(organisation_id=relative_org.id))
        assert not await may_receive(db, case_id, Party(user_id=relative.id))
        assert await may_receive(db, case_id, Party(user_id=world.social_worker.id))
        assert await may_receive(db, case_id, Party(person_id=uuid.uuid4()))
        assert await may_receive(db, case_id, Party())
        # Another case is not affected.
        other = await open_case(client, world.police, world.marak)
        assert await may_receive(db, uuid.UUID(other["id"]), Party(person_id=pid))

    async def test_removal_lifts_the_exclusion_and_keeps_the_row(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        person = (await record_person(client, world.police, case["id"], "other"))["person"]
        entry = (
            await client.post(
                url(case),
                json={"person_id": person["id"], "reason": "A relative."},
                headers=world.police.headers,
            )
        ).json()
        entry_url = f"{url(case)}/{entry['id']}"
        assert_problem(await client.delete(entry_url, headers=world.police.headers), 428)
        r = await client.delete(entry_url, headers=with_etag(world.police, '"1"'))
        assert r.status_code == 204
        assert (await client.get(url(case), headers=world.police.headers)).json() == []
        party = Party(person_id=uuid.UUID(person["id"]))
        assert await may_receive(db, uuid.UUID(case["id"]), party)


class TestAdmission:
    async def test_a_member_from_an_excluded_organisation_is_refused(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        r = await client.post(
            url(case),
            json={
                "organisation_id": str(world.social.id),
                "reason": "The perpetrator works there.",
            },
            headers=world.police.headers,
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/api/v1/cases/{case['id']}/members",
            json={"user_id": str(world.social_worker.id)},
            headers=world.police.headers,
        )
        body = assert_problem(r, 409)
        assert body["type"].endswith("/must-not-receive")

    async def test_excluding_an_organisation_with_members_shuts_them_out(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await client.post(
            f"/api/v1/cases/{case['id']}/members",
            json={"user_id": str(world.social_worker.id)},
            headers=world.police.headers,
        )
        r = await client.post(
            url(case),
            json={"organisation_id": str(world.social.id), "reason": "Conflict of interest."},
            headers=world.police.headers,
        )
        assert r.status_code == 201, r.text
        r = await client.get(f"/api/v1/cases/{case['id']}", headers=world.social_worker.headers)
        assert_problem(r, 404)


class TestRefusals:
    async def test_bad_bodies(self, client: httpx.AsyncClient, world: World) -> None:
        case = await open_case(client, world.police, world.marak)
        other = await open_case(client, world.social_worker, world.marak)
        invisible = (await record_person(client, world.social_worker, other["id"]))["person"]
        person = (await record_person(client, world.police, case["id"]))["person"]
        h = world.police.headers
        for body, status in (
            ({"reason": "Nobody."}, 422),
            ({"person_id": person["id"], "organisation_id": str(world.org.id), "reason": "x"}, 422),
            ({"person_id": invisible["id"], "reason": "Someone else's."}, 422),
            ({"organisation_id": str(uuid.uuid4()), "reason": "No such org."}, 422),
            ({"person_id": person["id"], "reason": "Twice.", "added_by": str(world.org.id)}, 422),
        ):
            assert_problem(await client.post(url(case), json=body, headers=h), status)
        ok = {"person_id": person["id"], "reason": "The perpetrator."}
        assert (await client.post(url(case), json=ok, headers=h)).status_code == 201
        assert_problem(await client.post(url(case), json=ok, headers=h), 409)

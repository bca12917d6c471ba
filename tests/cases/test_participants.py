"""Participants: new or existing people in a role."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.persons.models import Person
from tests.cases.factories import add_member, add_participant, add_person, make_case
from tests.problems import assert_problem
from tests.world import World, with_etag

NEW = {
    "role": "victim",
    "person": {"given_name": "Sanna", "family_name": "Suomalainen", "birth_date": "1990-04-01"},
}


def url(case: Case, pid: object = None) -> str:
    base = f"/api/v1/cases/{case.id}/participants"
    return f"{base}/{pid}" if pid else base


class TestAdd:
    async def test_new_person_is_recorded_and_owned_by_my_organisation(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        r = await client.post(url(case), json=NEW, headers=world.police.headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["role"] == "victim" and body["person"]["family_name"] == "Suomalainen"
        person = await db.get(Person, uuid.UUID(body["person"]["id"]))
        assert person is not None and person.owner_organisation_id == world.org.id
        actions = set((await db.scalars(select(AuditEvent.action))).all())
        assert {"person.created", "case.participant.added"} <= actions

    async def test_existing_person_i_recorded_can_be_linked(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        person = await add_person(db, world.police)
        await db.commit()
        r = await client.post(
            url(case),
            json={"role": "perpetrator", "person_id": str(person.id)},
            headers=world.police.headers,
        )
        assert r.status_code == 201
        again = await client.post(
            url(case),
            json={"role": "victim", "person_id": str(person.id)},
            headers=world.police.headers,
        )
        assert_problem(again, 409)

    async def test_person_of_a_case_i_cannot_see_is_422_and_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mine = await make_case(db, world.marak, world.police)
        theirs = await make_case(db, world.marak, world.social_worker)
        foreign = await add_participant(db, theirs, world.social_worker)
        await db.commit()
        r = await client.post(
            url(mine),
            json={"role": "victim", "person_id": str(foreign.person_id)},
            headers=world.police.headers,
        )
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "person_id"
        denied = await db.scalar(
            select(AuditEvent).where(
                AuditEvent.target_id == str(foreign.person_id), AuditEvent.outcome == "denied"
            )
        )
        assert denied is not None

    async def test_body_needs_exactly_one_of_person_and_person_id(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        assert_problem(
            await client.post(url(case), json={"role": "victim"}, headers=world.police.headers), 422
        )
        both = NEW | {"person_id": str(uuid.uuid4())}
        assert_problem(await client.post(url(case), json=both, headers=world.police.headers), 422)


class TestReadUpdateRemove:
    async def test_members_read_list_and_item(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await add_member(db, case, world.health)
        p = await add_participant(db, case, world.police)
        await db.commit()
        r = await client.get(url(case), headers=world.health.headers)
        assert [x["id"] for x in r.json()] == [str(p.id)]
        one = await client.get(url(case, p.id), headers=world.health.headers)
        assert one.status_code == 200 and one.headers["etag"] == f'"{p.version}"'
        assert_problem(await client.get(url(case), headers=world.social_worker.headers), 404)
        assert_problem(await client.get(url(case, p.id), headers=world.social_worker.headers), 404)

    async def test_change_role_and_remove_with_if_match(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.ankkuri, world.police)
        p = await add_participant(db, case, world.police, role="young_person")
        await db.commit()
        assert_problem(
            await client.patch(
                url(case, p.id), json={"role": "guardian"}, headers=world.police.headers
            ),
            428,
        )
        r = await client.patch(
            url(case, p.id),
            json={"role": "guardian"},
            headers=with_etag(world.police, f'"{p.version}"'),
        )
        assert r.status_code == 200 and r.json()["role"] == "guardian"
        assert_problem(
            await client.delete(url(case, p.id), headers=with_etag(world.police, f'"{p.version}"')),
            412,
        )
        r = await client.delete(url(case, p.id), headers=with_etag(world.police, r.headers["etag"]))
        assert r.status_code == 204
        assert (await client.get(url(case), headers=world.police.headers)).json() == []

    async def test_unknown_role_is_422(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        r = await client.post(
            url(case), json=NEW | {"role": "suspect"}, headers=world.police.headers
        )
        assert_problem(r, 422)

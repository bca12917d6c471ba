"""Case members: admission by team, invitations, HAH police-only, leads."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case
from tests.cases.factories import add_member, make_case
from tests.problems import assert_problem
from tests.world import Actor, TokenFactory, World, make_user, with_etag

REASON = "Needed for the child-protection assessment."


def url(case: Case, member_id: object = None) -> str:
    base = f"/api/v1/cases/{case.id}/members"
    return f"{base}/{member_id}" if member_id else base


async def add(
    client: httpx.AsyncClient, by: Actor, case: Case, who: Actor, **body: object
) -> httpx.Response:
    return await client.post(url(case), json={"user_id": str(who.id), **body}, headers=by.headers)


class TestListAndGet:
    async def test_members_see_members_with_names_and_organisations(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        member = await add_member(db, case, world.health)
        await db.commit()
        r = await client.get(url(case), headers=world.health.headers)
        assert r.status_code == 200
        rows = {m["user_id"]: m for m in r.json()}
        assert rows[str(world.police.id)]["case_role"] == "lead"
        assert rows[str(world.health.id)]["organisation_id"] == str(world.social.id)
        one = await client.get(url(case, member.id), headers=world.police.headers)
        assert one.status_code == 200 and one.headers["etag"] == f'"{member.version}"'


class TestAdd:
    async def test_lead_adds_a_team_member(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        r = await add(client, world.police, case, world.social_worker)
        assert r.status_code == 201, r.text
        assert r.json()["invited"] is False and r.json()["case_role"] == "member"
        assert r.headers["location"].endswith(r.json()["id"])
        assert_problem(await add(client, world.police, case, world.social_worker), 409)

    async def test_outsider_needs_an_invitation_reason_which_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        body = assert_problem(await add(client, world.police, case, world.outsider_police), 422)
        assert body["errors"][0]["field"] == "invite_reason"
        r = await add(client, world.police, case, world.outsider_police, invite_reason=REASON)
        assert r.status_code == 201
        assert r.json()["invited"] is True and r.json()["invite_reason"] == REASON
        rows = (
            await db.scalars(select(AuditEvent).where(AuditEvent.action == "case.member.invited"))
        ).all()
        assert [e.target_id for e in rows] == [r.json()["id"]]
        assert all(REASON not in str(e.purpose) for e in rows)

    async def test_team_coordinator_who_is_a_member_may_add(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await add_member(db, case, world.coordinator)
        await db.commit()
        assert (await add(client, world.coordinator, case, world.health)).status_code == 201

    async def test_unknown_or_non_professional_user_is_422(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        assert_problem(
            await add(client, world.police, case, world.auditor, invite_reason=REASON), 422
        )
        r = await client.post(
            url(case),
            json={"user_id": "00000000-0000-4000-8000-000000000000"},
            headers=world.police.headers,
        )
        assert_problem(r, 422)


class TestHahIsPoliceOnly:
    async def test_police_of_the_team_join_freely(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.hah, world.police)
        await db.commit()
        assert (await add(client, world.police, case, world.hah_police)).status_code == 201

    async def test_non_police_only_by_a_lead_with_a_reason(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, tokens: TokenFactory
    ) -> None:
        case = await make_case(db, world.hah, world.police)
        nurse = await make_user(db, tokens, world.org, "health_worker", teams=(world.hah,))
        coordinator = await make_user(
            db,
            tokens,
            world.org,
            "police",
            "coordinator",
            teams=(world.hah,),
            team_role="coordinator",
        )
        await add_member(db, case, coordinator)
        await db.commit()
        assert_problem(await add(client, world.police, case, nurse), 422)
        assert_problem(await add(client, coordinator, case, nurse, invite_reason=REASON), 403)
        r = await add(client, world.police, case, nurse, invite_reason=REASON)
        assert r.status_code == 201 and r.json()["invited"] is True


class TestUpdateAndRemove:
    async def test_change_role_with_if_match(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        member = await add_member(db, case, world.advocate)
        await db.commit()
        target = url(case, member.id)
        body = {"case_role": "support_person"}
        assert_problem(await client.patch(target, json=body, headers=world.police.headers), 428)
        r = await client.patch(
            target, json=body, headers=with_etag(world.police, f'"{member.version}"')
        )
        assert r.status_code == 200 and r.json()["case_role"] == "support_person"
        assert_problem(
            await client.patch(
                target, json=body, headers=with_etag(world.police, f'"{member.version}"')
            ),
            412,
        )

    async def test_the_last_lead_cannot_leave_or_be_demoted(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        members = (await client.get(url(case), headers=world.police.headers)).json()
        lead = members[0]
        target = url(case, lead["id"])
        etag = with_etag(world.police, f'"{lead["version"]}"')
        assert_problem(await client.delete(target, headers=etag), 409)
        assert_problem(await client.patch(target, json={"case_role": "member"}, headers=etag), 409)

    async def test_removed_member_can_be_readmitted(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        member = await add_member(db, case, world.health)
        await db.commit()
        r = await client.delete(
            url(case, member.id), headers=with_etag(world.police, f'"{member.version}"')
        )
        assert r.status_code == 204
        assert_problem(await client.get(url(case, member.id), headers=world.police.headers), 404)
        again = await add(client, world.police, case, world.health)
        assert again.status_code == 201 and again.json()["id"] == str(member.id)

"""Who sees what: note visibility per role and organisation; HAH is police-only."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import PROFESSIONALS
from app.auth.principal import Role
from tests.cases.factories import add_member, add_note, make_case
from tests.problems import assert_problem
from tests.world import TokenFactory, World, make_org, make_team, make_user


async def test_note_visibility_for_every_profession_in_and_out_of_the_authors_organisation(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory
) -> None:
    home, away = await make_org(db), await make_org(db)
    team = await make_team(db, home, "marak")
    author = await make_user(db, tokens, home, "social_worker", teams=(team,))
    case = await make_case(db, team, author)
    notes = {
        v: await add_note(db, case, author, visibility=v)
        for v in ("case", "organisation", "profession")
    }
    readers = []
    for role in sorted(PROFESSIONALS):
        for org in (home, away):
            reader = await make_user(db, tokens, org, role.value)
            await add_member(db, case, reader)
            readers.append((role, org is home, reader))
    await db.commit()
    for role, same_org, reader in readers:
        want = {str(notes["case"].id)}
        if same_org:
            want.add(str(notes["organisation"].id))
        if role == Role.SOCIAL_WORKER:
            want.add(str(notes["profession"].id))
        r = await client.get(f"/api/v1/cases/{case.id}/notes", headers=reader.headers)
        assert {n["id"] for n in r.json()["items"]} == want, (role, same_org)
        for kind, note in notes.items():
            single = await client.get(
                f"/api/v1/cases/{case.id}/notes/{note.id}", headers=reader.headers
            )
            assert single.status_code == (200 if str(note.id) in want else 404), (
                role,
                same_org,
                kind,
            )


class TestHahIsPoliceOnly:
    async def test_non_police_team_members_cannot_be_added_without_invitation(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, tokens: TokenFactory
    ) -> None:
        case = await make_case(db, world.hah, world.police)
        others = [
            await make_user(db, tokens, world.org, role, teams=(world.hah,))
            for role in sorted(PROFESSIONALS - {Role.POLICE})
        ]
        await db.commit()
        for other in others:
            r = await client.post(
                f"/api/v1/cases/{case.id}/members",
                json={"user_id": str(other.id)},
                headers=world.police.headers,
            )
            assert_problem(r, 422)
            assert_problem(await client.get(f"/api/v1/cases/{case.id}", headers=other.headers), 404)

    async def test_non_police_cannot_open_or_break_into_hah(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.hah, world.police)
        await db.commit()
        for actor in (world.social_worker, world.health):
            r = await client.post(
                f"/api/v1/cases/{case.id}/emergency-access",
                json={"reason": "Urgent: the patient threatened a named colleague."},
                headers=actor.headers,
            )
            assert_problem(r, 404)
        r = await client.post(
            "/api/v1/cases",
            json={"team_id": str(world.hah.id)},
            headers=world.social_worker.headers,
        )
        assert_problem(r, 403)

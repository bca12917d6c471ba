"""Notes: immutable, visibility-filtered, corrected by new notes."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from tests.cases.factories import add_member, add_note, make_case
from tests.problems import assert_problem
from tests.world import TokenFactory, World, make_user


def url(case: Case, nid: object = None) -> str:
    base = f"/api/v1/cases/{case.id}/notes"
    return f"{base}/{nid}" if nid else base


class TestWrite:
    async def test_member_writes_a_fact_note(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        r = await client.post(
            url(case),
            json={"text": "Visited; bruising seen.", "kind": "fact"},
            headers=world.police.headers,
        )
        assert r.status_code == 201, r.text
        note = r.json()
        assert (note["kind"], note["visibility"], note["author_role"]) == ("fact", "case", "police")
        assert r.headers["etag"] == '"1"'

    async def test_kind_is_required_and_unknown_visibility_is_422(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        h = world.police.headers
        assert_problem(await client.post(url(case), json={"text": "x"}, headers=h), 422)
        r = await client.post(
            url(case), json={"text": "x", "kind": "fact", "visibility": "all"}, headers=h
        )
        assert_problem(r, 422)

    async def test_profession_must_be_one_of_mine(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await db.commit()
        r = await client.post(
            url(case),
            json={
                "text": "x",
                "kind": "opinion",
                "visibility": "profession",
                "profession": "health_worker",
            },
            headers=world.police.headers,
        )
        assert_problem(r, 422)

    async def test_notes_cannot_be_changed_or_deleted(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        note = await add_note(db, case, world.police)
        await db.commit()
        h = {**world.police.headers, "If-Match": '"1"'}
        assert_problem(await client.patch(url(case, note.id), json={"text": "y"}, headers=h), 405)
        assert_problem(await client.delete(url(case, note.id), headers=h), 405)


class TestCorrections:
    async def test_correction_points_to_the_original_and_keeps_its_visibility(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        original = await add_note(db, case, world.police, visibility="organisation")
        await db.commit()
        r = await client.post(
            url(case),
            json={
                "text": "Bruising on the left arm.",
                "kind": "fact",
                "corrects_id": str(original.id),
                "correction_reason": "Wrong arm recorded.",
            },
            headers=world.police.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["visibility"] == "organisation"
        assert r.json()["corrects_id"] == str(original.id)
        old = await client.get(url(case, original.id), headers=world.police.headers)
        assert old.json()["text"] == original.text_plain  # the original is untouched
        assert old.json()["superseded_by"] == [r.json()["id"]]

    async def test_correction_needs_a_reason_and_keeps_visibility(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        original = await add_note(db, case, world.police)
        await db.commit()
        h = world.police.headers
        base = {"text": "x", "kind": "fact", "corrects_id": str(original.id)}
        assert_problem(await client.post(url(case), json=base, headers=h), 422)
        widened = base | {"correction_reason": "typo fix", "visibility": "organisation"}
        assert_problem(await client.post(url(case), json=widened, headers=h), 422)

    async def test_only_the_authors_organisation_corrects(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        await add_member(db, case, world.health)
        original = await add_note(db, case, world.police)
        await db.commit()
        r = await client.post(
            url(case),
            json={
                "text": "x",
                "kind": "opinion",
                "corrects_id": str(original.id),
                "correction_reason": "I disagree",
            },
            headers=world.health.headers,
        )
        assert_problem(r, 403)


class TestVisibility:
    async def test_list_and_item_are_filtered_by_visibility(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, tokens: TokenFactory
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        colleague = await make_user(db, tokens, world.org, "youth_worker")  # same org, other role
        other_police = await make_user(db, tokens, world.other, "police")  # same role, other org
        for actor in (world.health, colleague, other_police):
            await add_member(db, case, actor)
        everyone = await add_note(db, case, world.police, visibility="case")
        org_only = await add_note(db, case, world.police, visibility="organisation")
        police_only = await add_note(db, case, world.police, visibility="profession")
        await db.commit()

        async def visible(actor: object) -> set[str]:
            r = await client.get(url(case), headers=actor.headers)  # type: ignore[attr-defined]
            assert r.status_code == 200
            return {n["id"] for n in r.json()["items"]}

        ids = {n: str(n.id) for n in (everyone, org_only, police_only)}
        assert await visible(world.police) == set(ids.values())
        assert await visible(colleague) == {ids[everyone], ids[org_only]}
        assert await visible(other_police) == {ids[everyone], ids[police_only]}
        assert await visible(world.health) == {ids[everyone]}
        assert_problem(await client.get(url(case, org_only.id), headers=world.health.headers), 404)
        assert (
            await client.get(url(case, org_only.id), headers=colleague.headers)
        ).status_code == 200

    async def test_paging(self, client: httpx.AsyncClient, db: AsyncSession, world: World) -> None:
        case = await make_case(db, world.marak, world.police)
        for i in range(3):
            await add_note(db, case, world.police, text=f"note {i}")
        await db.commit()
        r = await client.get(url(case), params={"limit": 2}, headers=world.police.headers)
        page = r.json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        r = await client.get(
            url(case),
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=world.police.headers,
        )
        assert len(r.json()["items"]) == 1 and r.json()["next_cursor"] is None

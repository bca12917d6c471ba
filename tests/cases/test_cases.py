"""Cases: open, read, update, list, search."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case, CaseMember
from app.platform.db import utcnow
from tests.cases.factories import add_member, add_participant, add_person, make_case
from tests.problems import assert_problem
from tests.world import World, open_case, with_etag


async def audit_rows(db: AsyncSession, action: str, target_id: object = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    if target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == str(target_id))
    return list((await db.scalars(stmt)).all())


class TestCreateCase:
    async def test_team_member_opens_case_and_becomes_lead(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak, summary="Referred by ER.")
        assert case["scheme"] == "marak"
        assert case["status"] == "identified"
        assert case["my_role"] == "lead"
        assert case["access"] == "member"
        assert case["owner_organisation_id"] == str(world.org.id)
        assert case["reference"].startswith("MRK-")
        assert case["risk_level"] is None
        assert case["allowed_transitions"] == ["closed", "referred"]
        assert case["etag"] == f'"{case["version"]}"'
        member = await db.scalar(
            select(CaseMember).where(CaseMember.case_id == uuid.UUID(case["id"]))
        )
        assert member is not None and member.case_role == "lead"
        assert await audit_rows(db, "case.created", case["id"])

    async def test_scheme_follows_the_team(self, client: httpx.AsyncClient, world: World) -> None:
        ankkuri = await open_case(client, world.police, world.ankkuri)
        hah = await open_case(client, world.police, world.hah)
        assert (ankkuri["scheme"], ankkuri["status"]) == ("ankkuri", "concern_received")
        assert (hah["scheme"], hah["status"]) == ("hah", "concern_reported")

    async def test_someone_outside_the_team_gets_403_and_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        r = await client.post(
            "/api/v1/cases",
            json={"team_id": str(world.marak.id)},
            headers=world.outsider_police.headers,
        )
        assert_problem(r, 403)
        denied = await audit_rows(db, "case.create", world.marak.id)
        assert denied and denied[0].outcome == "denied"

    async def test_unknown_team_is_422(self, client: httpx.AsyncClient, world: World) -> None:
        r = await client.post(
            "/api/v1/cases",
            json={"team_id": "00000000-0000-4000-8000-000000000000"},
            headers=world.police.headers,
        )
        assert_problem(r, 422)

    async def test_hah_case_needs_police(
        self, client: httpx.AsyncClient, world: World, db: AsyncSession
    ) -> None:
        from tests.world import join_team

        await join_team(db, world.hah, world.social_worker)
        await db.commit()
        r = await client.post(
            "/api/v1/cases",
            json={"team_id": str(world.hah.id)},
            headers=world.social_worker.headers,
        )
        assert_problem(r, 403)

    async def test_no_token_is_401(self, client: httpx.AsyncClient, world: World) -> None:
        r = await client.post("/api/v1/cases", json={"team_id": str(world.marak.id)})
        assert_problem(r, 401)


class TestGetCase:
    async def test_member_reads_with_etag_and_the_read_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        r = await client.get(f"/api/v1/cases/{case['id']}", headers=world.police.headers)
        assert r.status_code == 200
        assert r.headers["etag"] == case["etag"]
        rows = await audit_rows(db, "case.read", case["id"])
        assert len(rows) == 1
        assert rows[0].actor_id == world.police.id and rows[0].outcome == "allowed"
        assert rows[0].purpose == "case work"

    async def test_non_member_gets_404_and_the_denial_is_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        r = await client.get(f"/api/v1/cases/{case['id']}", headers=world.social_worker.headers)
        body = assert_problem(r, 404)
        assert case["id"] not in body["detail"]
        rows = await audit_rows(db, "case.read", case["id"])
        assert [(e.actor_id, e.outcome) for e in rows] == [(world.social_worker.id, "denied")]

    async def test_missing_case_looks_the_same_as_a_foreign_one(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        foreign = await client.get(f"/api/v1/cases/{case['id']}", headers=world.health.headers)
        missing = await client.get(
            "/api/v1/cases/00000000-0000-4000-8000-000000000000", headers=world.health.headers
        )
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["detail"] == missing.json()["detail"]

    async def test_removed_member_loses_access_at_once(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        case = await make_case(db, world.marak, world.police)
        member = await add_member(db, case, world.health)
        await db.commit()
        assert (
            await client.get(f"/api/v1/cases/{case.id}", headers=world.health.headers)
        ).status_code == 200
        r = await client.delete(
            f"/api/v1/cases/{case.id}/members/{member.id}",
            headers=with_etag(world.police, f'"{member.version}"'),
        )
        assert r.status_code == 204
        assert (
            await client.get(f"/api/v1/cases/{case.id}", headers=world.health.headers)
        ).status_code == 404


class TestUpdateCase:
    async def test_member_updates_with_if_match(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        review = (utcnow() + timedelta(days=14)).isoformat()
        r = await client.patch(
            f"/api/v1/cases/{case['id']}",
            json={"summary": "New summary.", "next_review_at": review},
            headers=with_etag(world.police, case["etag"]),
        )
        assert r.status_code == 200, r.text
        assert r.json()["summary"] == "New summary."
        assert r.json()["version"] == case["version"] + 1
        assert r.headers["etag"] == f'"{case["version"] + 1}"'

    async def test_missing_if_match_is_428_and_stale_is_412(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        url = f"/api/v1/cases/{case['id']}"
        assert_problem(
            await client.patch(url, json={"summary": "x"}, headers=world.police.headers), 428
        )
        assert_problem(
            await client.patch(url, json={"summary": "x"}, headers=with_etag(world.police, '"99"')),
            412,
        )


class TestListCases:
    async def test_lists_only_my_cases_with_filters(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        now = utcnow()
        mine_overdue = await make_case(
            db, world.marak, world.police, next_review_at=now - timedelta(days=1), risk_level="high"
        )
        mine_ankkuri = await make_case(db, world.ankkuri, world.police)
        await make_case(db, world.marak, world.social_worker)  # not mine
        await db.commit()
        h = world.police.headers

        async def ids(**params: object) -> set[str]:
            r = await client.get("/api/v1/cases", params=params, headers=h)
            assert r.status_code == 200, r.text
            return {item["id"] for item in r.json()["items"]}

        assert await ids() == {str(mine_overdue.id), str(mine_ankkuri.id)}
        assert await ids(scheme="ankkuri") == {str(mine_ankkuri.id)}
        assert await ids(team_id=str(world.marak.id)) == {str(mine_overdue.id)}
        assert await ids(status="identified") == {str(mine_overdue.id)}
        assert await ids(risk_level="high") == {str(mine_overdue.id)}
        assert await ids(review_overdue="true") == {str(mine_overdue.id)}
        assert await ids(review_overdue="false") == {str(mine_ankkuri.id)}

    async def test_items_hold_no_free_text(self, client: httpx.AsyncClient, world: World) -> None:
        await open_case(client, world.police, world.marak, summary="Victim named here.")
        r = await client.get("/api/v1/cases", headers=world.police.headers)
        assert "summary" not in r.json()["items"][0]

    async def test_keyset_paging(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = {str((await make_case(db, world.marak, world.police)).id) for _ in range(5)}
        await db.commit()
        seen: list[str] = []
        cursor = None
        for _ in range(5):
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            r = await client.get("/api/v1/cases", params=params, headers=world.police.headers)
            page = r.json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5 and set(seen) == made

    async def test_limit_over_100_is_422(self, client: httpx.AsyncClient, world: World) -> None:
        r = await client.get("/api/v1/cases", params={"limit": 101}, headers=world.police.headers)
        assert_problem(r, 422)

    async def test_bad_filter_and_bad_cursor_are_422(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        h = world.police.headers
        assert_problem(await client.get("/api/v1/cases", params={"status": "nope"}, headers=h), 422)
        assert_problem(await client.get("/api/v1/cases", params={"cursor": "!!"}, headers=h), 422)

    async def test_list_is_audited_and_role_checked(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        assert (await client.get("/api/v1/cases", headers=world.police.headers)).status_code == 200
        assert await audit_rows(db, "case.listed")
        assert_problem(await client.get("/api/v1/cases", headers=world.auditor.headers), 403)


class TestSearchCases:
    async def test_by_participant_name_and_reference(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        mine = await make_case(db, world.marak, world.police)
        await add_participant(
            db, mine, world.police, person=await add_person(db, world.police, "Liisa", "Virtanen")
        )
        theirs = await make_case(db, world.marak, world.social_worker)
        await add_participant(
            db,
            theirs,
            world.social_worker,
            person=await add_person(db, world.social_worker, "Liisa", "Virtanen"),
        )
        await db.commit()

        async def search(body: dict[str, str], actor: object = world.police) -> list[str]:
            r = await client.post("/api/v1/cases/search", json=body, headers=actor.headers)  # type: ignore[attr-defined]
            assert r.status_code == 200, r.text
            return [i["id"] for i in r.json()["items"]]

        assert await search({"participant_name": "liisa virt"}) == [str(mine.id)]
        assert await search({"participant_name": "Virtanen Liisa"}) == [str(mine.id)]
        assert await search({"reference": mine.reference.lower()}) == [str(mine.id)]
        assert await search({"reference": theirs.reference}) == []
        assert await search({"participant_name": "Liisa"}, world.social_worker) == [str(theirs.id)]

    async def test_name_is_not_in_the_url_or_the_audit_log(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        r = await client.post(
            "/api/v1/cases/search",
            json={"participant_name": "Virtanen"},
            headers=world.police.headers,
        )
        assert r.status_code == 200
        rows = await audit_rows(db, "case.searched")
        assert rows and all("Virtanen" not in str(vars(e)) for e in rows)

    async def test_empty_search_is_422_and_auditor_403(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        assert_problem(
            await client.post("/api/v1/cases/search", json={}, headers=world.police.headers), 422
        )
        r = await client.post(
            "/api/v1/cases/search", json={"reference": "MRK"}, headers=world.auditor.headers
        )
        assert_problem(r, 403)


async def test_case_row_is_unchanged_by_reads(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    case = await open_case(client, world.police, world.marak)
    await client.get(f"/api/v1/cases/{case['id']}", headers=world.police.headers)
    row = await db.scalar(select(Case).where(Case.id == uuid.UUID(case["id"])))
    assert row is not None and row.version == case["version"]

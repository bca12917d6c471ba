"""Object-level authorisation: foreign ids in paths, nested paths and bodies; lists."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.cases.models import Case, CaseMember, CaseNote, CaseParticipant
from tests.cases.factories import add_member, add_note, add_participant, add_person, make_case
from tests.problems import assert_problem
from tests.world import World


class Two:
    """My case and a foreign case, each with a member, a participant and a note."""

    mine: Case
    theirs: Case
    their_member: CaseMember
    their_participant: CaseParticipant
    their_note: CaseNote


@pytest.fixture
async def two(db: AsyncSession, world: World) -> Two:
    t = Two()
    t.mine = await make_case(db, world.marak, world.police)
    await add_note(db, t.mine, world.police)
    await add_participant(db, t.mine, world.police)
    t.theirs = await make_case(db, world.marak, world.social_worker)
    t.their_member = await add_member(db, t.theirs, world.health)
    t.their_participant = await add_participant(
        db,
        t.theirs,
        world.social_worker,
        person=await add_person(db, world.social_worker, "Salla", "Salainen"),
    )
    t.their_note = await add_note(
        db, t.theirs, world.social_worker, text="Secret of the other case."
    )
    await db.commit()
    return t


def _paths(t: Two, case: Case) -> list[tuple[str, str]]:
    base = f"/api/v1/cases/{case.id}"
    return [
        ("GET", base),
        ("PATCH", base),
        ("POST", base + "/transitions"),
        ("GET", base + "/transitions"),
        ("GET", base + "/members"),
        ("POST", base + "/members"),
        ("GET", base + "/participants"),
        ("POST", base + "/participants"),
        ("GET", base + "/notes"),
        ("POST", base + "/notes"),
        ("GET", base + "/emergency-access"),
    ]


async def test_foreign_case_id_in_the_path_is_404_everywhere(
    client: httpx.AsyncClient, db: AsyncSession, world: World, two: Two
) -> None:
    bodies = {
        "/transitions": {"to": "closed", "outcome": "risk_reduced"},
        "/members": {"user_id": str(world.police.id)},
        "/participants": {"role": "victim", "person": {"given_name": "A", "family_name": "B"}},
        "/notes": {"text": "x", "kind": "fact"},
    }
    for method, path in _paths(two, two.theirs):
        body = next((b for k, b in bodies.items() if path.endswith(k)), {"summary": "x"})
        headers = {**world.police.headers, "If-Match": f'"{two.theirs.version}"'}
        r = await client.request(
            method, path, json=body if method != "GET" else None, headers=headers
        )
        assert_problem(r, 404)
    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == world.police.id, AuditEvent.outcome == "denied"
            )
        )
    ).all()
    assert len(denied) == len(_paths(two, two.theirs))
    assert {e.target_id for e in denied} == {str(two.theirs.id)}


async def test_sub_resources_of_another_case_are_404_under_my_case(
    client: httpx.AsyncClient, world: World, two: Two
) -> None:
    base = f"/api/v1/cases/{two.mine.id}"
    h = world.police.headers
    etag = {**h, "If-Match": '"1"'}
    assert_problem(await client.get(f"{base}/notes/{two.their_note.id}", headers=h), 404)
    assert_problem(await client.get(f"{base}/members/{two.their_member.id}", headers=h), 404)
    assert_problem(
        await client.get(f"{base}/participants/{two.their_participant.id}", headers=h), 404
    )
    r = await client.patch(
        f"{base}/members/{two.their_member.id}", json={"case_role": "lead"}, headers=etag
    )
    assert_problem(r, 404)
    assert_problem(await client.delete(f"{base}/members/{two.their_member.id}", headers=etag), 404)
    r = await client.patch(
        f"{base}/participants/{two.their_participant.id}", json={"role": "other"}, headers=etag
    )
    assert_problem(r, 404)
    assert_problem(
        await client.delete(f"{base}/participants/{two.their_participant.id}", headers=etag), 404
    )


async def test_foreign_ids_in_bodies_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, world: World, two: Two
) -> None:
    base = f"/api/v1/cases/{two.mine.id}"
    h = world.police.headers
    # a note of another case as the note to correct
    r = await client.post(
        f"{base}/notes",
        json={
            "text": "x",
            "kind": "fact",
            "corrects_id": str(two.their_note.id),
            "correction_reason": "fix it",
        },
        headers=h,
    )
    assert_problem(r, 422)
    # a person of another case as a participant
    r = await client.post(
        f"{base}/participants",
        json={"role": "victim", "person_id": str(two.their_participant.person_id)},
        headers=h,
    )
    assert_problem(r, 422)
    # a team I am not in as the team of a new case
    from tests.world import make_team

    foreign_team = await make_team(db, world.other, "marak")
    await db.commit()
    assert_problem(
        await client.post("/api/v1/cases", json={"team_id": str(foreign_team.id)}, headers=h), 403
    )
    # nothing leaked into my case
    notes = (await client.get(f"{base}/notes", headers=h)).json()["items"]
    assert all(n["text"] != "Secret of the other case." for n in notes)
    people = (await client.get(f"{base}/participants", headers=h)).json()
    assert all(p["person"]["family_name"] != "Salainen" for p in people)


async def test_lists_and_search_hold_no_foreign_rows(
    client: httpx.AsyncClient, world: World, two: Two
) -> None:
    h = world.police.headers
    listed = (await client.get("/api/v1/cases", params={"limit": 100}, headers=h)).json()
    assert [i["id"] for i in listed["items"]] == [str(two.mine.id)]
    assert listed["next_cursor"] is None
    for body in ({"participant_name": "Salainen"}, {"reference": two.theirs.reference}):
        found = (await client.post("/api/v1/cases/search", json=body, headers=h)).json()
        assert found == {"items": [], "next_cursor": None}
    filtered = await client.get("/api/v1/cases", params={"team_id": str(world.marak.id)}, headers=h)
    assert [i["id"] for i in filtered.json()["items"]] == [str(two.mine.id)]
    mine_people = (await client.get(f"/api/v1/cases/{two.mine.id}/participants", headers=h)).json()
    assert len(mine_people) == 1
    mine_members = (await client.get(f"/api/v1/cases/{two.mine.id}/members", headers=h)).json()
    assert [m["user_id"] for m in mine_members] == [str(world.police.id)]

"""Mass assignment: server-owned fields in bodies are refused, and nothing changes."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.problems import assert_problem
from tests.world import World, open_case, with_etag

PROBES = {
    "status": "closed",
    "risk_level": "high",
    "owner_organisation_id": str(uuid.uuid4()),
    "version": 99,
    "created_by": str(uuid.uuid4()),
    "scheme": "hah",
    "reference": "MRK-2026-AAAAAA",
    "closed_at": "2026-01-01T00:00:00Z",
}


@pytest.mark.parametrize("field", sorted(PROBES))
async def test_create_refuses_server_owned_fields(
    field: str, client: httpx.AsyncClient, world: World
) -> None:
    r = await client.post(
        "/api/v1/cases",
        json={"team_id": str(world.marak.id), field: PROBES[field]},
        headers=world.police.headers,
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == field
    listed = await client.get("/api/v1/cases", headers=world.police.headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize("field", sorted(PROBES))
async def test_update_refuses_server_owned_fields_and_nothing_changes(
    field: str, client: httpx.AsyncClient, world: World
) -> None:
    case = await open_case(client, world.police, world.marak, summary="Original.")
    r = await client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"summary": "Changed.", field: PROBES[field]},
        headers=with_etag(world.police, case["etag"]),
    )
    assert_problem(r, 422)
    after = (await client.get(f"/api/v1/cases/{case['id']}", headers=world.police.headers)).json()
    for key in ("status", "risk_level", "owner_organisation_id", "version", "created_by", "summary",
                "scheme", "reference", "closed_at"):  # fmt: skip
        assert after[key] == case[key], key


async def test_sub_resources_refuse_unknown_fields(client: httpx.AsyncClient, world: World) -> None:
    case = await open_case(client, world.police, world.marak)
    base = f"/api/v1/cases/{case['id']}"
    h = world.police.headers
    person = {"given_name": "A", "family_name": "B", "owner_organisation_id": str(uuid.uuid4())}
    consent = {"victim_aware": True, "consent_given": True}
    probes = [
        (f"{base}/notes", {"text": "x", "kind": "fact", "author_id": str(world.health.id)}),
        (
            f"{base}/notes",
            {"text": "x", "kind": "fact", "author_organisation_id": str(uuid.uuid4())},
        ),
        (f"{base}/members", {"user_id": str(world.health.id), "case_id": str(uuid.uuid4())}),
        (f"{base}/members", {"user_id": str(world.health.id), "invited": False}),
        (f"{base}/participants", {"role": "victim", "person": person}),
        (f"{base}/emergency-access", {"reason": "x" * 30, "expires_at": "2099-01-01T00:00:00Z"}),
        (f"{base}/transitions", {"to": "referred", "consent": consent, "gates": []}),
    ]
    for path, body in probes:
        headers = {**h, "If-Match": case["etag"]}
        assert_problem(await client.post(path, json=body, headers=headers), 422)
    notes = (await client.get(f"{base}/notes", headers=h)).json()["items"]
    members = (await client.get(f"{base}/members", headers=h)).json()
    assert notes == [] and len(members) == 1

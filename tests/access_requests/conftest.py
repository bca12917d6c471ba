"""Access request tests start from the world (tests/world.py): a person recorded in a
social-services Marak case and in a police Marak case, with a canary co-participant."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.clock import clock
from tests.persons.factories import give_consent, new_code, record_person
from tests.world import Actor, TokenFactory, World, make_user, open_case, with_etag

BASE = "/api/v1/access-requests"
#: The other person in the subject's case: none of this may reach the export.
CANARY = {
    "given_name": "Kanarialintu",
    "family_name": "Varoitusmerkki",
    "street": "Kanariantie 99",
    "phone": "+358 40 999 8877",
}


@dataclass
class Scene:
    world: World
    second_auditor: Actor
    subject_id: str
    subject_code: str
    canary_id: str
    canary_code: str
    social_case: dict[str, Any]  # owned by social services
    police_case: dict[str, Any]  # owned by the police


@pytest.fixture
async def scene(
    client: httpx.AsyncClient, db: AsyncSession, tokens: TokenFactory, world: World
) -> Scene:
    w = world
    second = await make_user(db, tokens, w.other, "auditor")
    await db.commit()
    social_case = await open_case(client, w.social_worker, w.marak)
    subject_code, canary_code = new_code(), new_code()
    subject = await record_person(
        client,
        w.social_worker,
        social_case["id"],
        "victim",
        given_name="Saara",
        family_name="Subjektinen",
        identity_code=subject_code,
        address={"street": "Turvakatu 7", "city": "Tampere"},
        phones=[{"number": "+358 40 123 4567", "safe_to_call": True}],
        safe_contact={
            "safe_to_call": True,
            "safe_times": "Mornings",
            "feared_persons": f"{CANARY['given_name']} {CANARY['family_name']}",
        },
    )
    subject_id = str(subject["person"]["id"])
    canary = await record_person(
        client,
        w.social_worker,
        social_case["id"],
        "perpetrator",
        given_name=CANARY["given_name"],
        family_name=CANARY["family_name"],
        identity_code=canary_code,
        address={"street": CANARY["street"]},
        phones=[{"number": CANARY["phone"]}],
    )
    await give_consent(client, w.social_worker, subject_id, social_case["id"])
    # A professional names the other person in free text: it is scrubbed.
    r = await client.post(
        f"/api/v1/cases/{social_case['id']}/incidents",
        json={
            "occurred_on": (clock.today() - timedelta(days=3)).isoformat(),
            "source": "victim",
            "police_reported": False,
            "note": f"{CANARY['given_name']} came to the door",
        },
        headers=w.social_worker.headers,
    )
    assert r.status_code == 201, r.text
    # The police know the same person through a case of their own.
    police_case = await open_case(client, w.police, w.marak)
    r = await client.post(
        "/api/v1/persons/search", json={"identity_code": subject_code}, headers=w.police.headers
    )
    handle = r.json()["match"]["handle"]
    r = await client.post(
        "/api/v1/persons",
        json={"case_id": police_case["id"], "role": "victim", "match_handle": handle},
        headers=w.police.headers,
    )
    assert r.status_code == 201, r.text
    return Scene(
        w,
        second,
        subject_id,
        subject_code,
        str(canary["person"]["id"]),
        canary_code,
        social_case,
        police_case,
    )


async def record_request(
    client: httpx.AsyncClient, actor: Actor, person_id: str, **overrides: Any
) -> httpx.Response:
    body = {
        "person_id": person_id,
        "requester_kind": "person",
        "identity_verification": "strong_electronic_identification",
        "received_on": clock.today().isoformat(),
        **overrides,
    }
    headers = {**actor.headers, "Idempotency-Key": uuid.uuid4().hex}
    return await client.post(BASE, json=body, headers=headers)


async def recorded(client: httpx.AsyncClient, scene: Scene, **overrides: Any) -> dict[str, Any]:
    r = await record_request(client, scene.world.auditor, scene.subject_id, **overrides)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def decide(
    client: httpx.AsyncClient, actor: Actor, request: dict[str, Any], what: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{request['id']}/{what}",
        json=body,
        headers=with_etag(actor, f'"{request["version"]}"'),
    )


async def approved(client: httpx.AsyncClient, scene: Scene, **body: Any) -> dict[str, Any]:
    request = await recorded(client, scene)
    r = await decide(client, scene.second_auditor, request, "approval", **body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


async def proposed(client: httpx.AsyncClient, scene: Scene) -> dict[str, Any]:
    """A recorded request with an extension proposed by the recorder, to be confirmed."""
    request = await recorded(client, scene)
    r = await decide(client, scene.world.auditor, request, "extension", reason="complexity")
    assert r.status_code == 200, r.text
    return dict(r.json())

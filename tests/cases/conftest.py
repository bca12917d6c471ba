"""A small world for case tests: organisations, a team of each scheme, people.

Tests outside this folder build it with :func:`build_world` in a fixture of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory.models import Organisation, Team
from tests.cases.factories import Actor, make_org, make_team, make_user
from tests.conftest import TokenFactory


@dataclass
class World:
    org: Organisation  # the owner organisation (police)
    social: Organisation
    other: Organisation  # has nothing to do with the cases
    marak: Team
    ankkuri: Team
    hah: Team
    police: Actor  # in every team
    social_worker: Actor  # in marak and ankkuri
    health: Actor  # in marak
    advocate: Actor  # in marak (support person)
    coordinator: Actor  # marak team coordinator
    outsider_police: Actor  # police in another organisation, no team
    hah_police: Actor  # a second police officer in the HAH team
    auditor: Actor


async def build_world(db: AsyncSession, tokens: TokenFactory) -> World:
    org = await make_org(db, "police")
    social = await make_org(db, "social_services")
    other = await make_org(db, "police")
    marak = await make_team(db, social, "marak")
    ankkuri = await make_team(db, org, "ankkuri")
    hah = await make_team(db, org, "hah")
    world = World(
        org=org,
        social=social,
        other=other,
        marak=marak,
        ankkuri=ankkuri,
        hah=hah,
        police=await make_user(db, tokens, org, "police", teams=(marak, ankkuri, hah)),
        social_worker=await make_user(db, tokens, social, "social_worker", teams=(marak, ankkuri)),
        health=await make_user(db, tokens, social, "health_worker", teams=(marak,)),
        advocate=await make_user(db, tokens, social, "victim_advocate", teams=(marak,)),
        coordinator=await make_user(
            db, tokens, social, "coordinator", teams=(marak,), team_role="coordinator"
        ),
        outsider_police=await make_user(db, tokens, other, "police"),
        hah_police=await make_user(db, tokens, org, "police", teams=(hah,)),
        auditor=await make_user(db, tokens, other, "auditor"),
    )
    await db.commit()
    return world


async def open_case(client: httpx.AsyncClient, actor: Actor, team: Team, **body: object) -> dict:
    r = await client.post(
        "/api/v1/cases", json={"team_id": str(team.id), **body}, headers=actor.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json()) | {"etag": r.headers["etag"]}


def with_etag(actor: Actor, etag: str) -> dict[str, str]:
    return {**actor.headers, "If-Match": etag}


@pytest.fixture
async def world(db: AsyncSession, tokens: TokenFactory) -> World:
    return await build_world(db, tokens)

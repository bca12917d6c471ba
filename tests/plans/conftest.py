"""A Marak case with a multi-agency membership, a victim and a perpetrator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseExclusion, CaseParticipant
from app.persons.models import Person
from tests.cases.conftest import World, build_world
from tests.cases.factories import add_member, add_participant, add_person, make_case
from tests.conftest import TokenFactory
from tests.persons.factories import add_consent


@dataclass
class MarakCase:
    case: Case
    victim: Person
    perpetrator: Person
    victim_participant: CaseParticipant


@pytest.fixture
async def world(db: AsyncSession, tokens: TokenFactory) -> World:
    return await build_world(db, tokens)


async def marak_case(
    db: AsyncSession, world: World, status: str = "plan_active", *, consent: bool = True
) -> MarakCase:
    """Police lead; social worker, health worker, support person and coordinator members.
    The victim consented to Marak sharing unless ``consent=False``."""
    case = await make_case(db, world.marak, world.police, status=status)
    for actor in (world.social_worker, world.health, world.advocate, world.coordinator):
        await add_member(db, case, actor)
    victim = await add_person(db, world.police, "Aino", "Äyräpää")
    victim.preferred_language = "fi"
    participant = await add_participant(db, case, world.police, "victim", victim)
    if consent:
        await add_consent(db, victim.id, world.police)
    perpetrator = await add_person(db, world.police, "Pertti", "Pahanen")
    await add_participant(db, case, world.police, "perpetrator", perpetrator)
    db.add(
        CaseExclusion(
            case_id=case.id,
            person_id=perpetrator.id,
            reason="The perpetrator.",
            added_by=world.police.id,
        )
    )
    await db.commit()
    return MarakCase(case, victim, perpetrator, participant)


@pytest.fixture
async def marak(db: AsyncSession, world: World) -> MarakCase:
    return await marak_case(db, world)

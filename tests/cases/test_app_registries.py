"""The extension point: every app has registries of its own (app/platform/extensions.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import PrincipalResolution
from app.cases.lifecycle import CaseStatus, GateContext, Gates, Scheme
from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.extensions import registries_of
from app.platform.problems import DenialHooks
from app.worklist.registry import TaskProviders
from tests.cases.test_transitions import move
from tests.problems import assert_problem
from tests.world import World, open_case

REGISTRIES = (Gates, TaskProviders, PrincipalResolution, DenialHooks)


async def refuse_screening(ctx: GateContext) -> str | None:
    return "Not in this app."


def fresh(settings: Settings) -> FastAPI:
    return create_app(settings, database=Database.from_url("sqlite+aiosqlite://"))


def _names(gates: Gates, scheme: Scheme, to: CaseStatus) -> list[str]:
    return [gate.name for gate in gates.for_transition(scheme, to)]


class TestTwoApps:
    def test_each_app_has_its_own_registries_filled_alike(self, settings: Settings) -> None:
        one, two = fresh(settings), fresh(settings)
        for kind in REGISTRIES:
            assert registries_of(one).of(kind) is not registries_of(two).of(kind)
        gates = [registries_of(app).of(Gates) for app in (one, two)]
        for scheme in Scheme:
            names = [
                [g.name for g in each.for_transition(scheme, CaseStatus.CLOSED)] for each in gates
            ]
            assert names[0] == names[1] and names[0]
        kinds = [registries_of(app).of(TaskProviders).kinds() for app in (one, two)]
        assert kinds[0] == kinds[1]
        # 8, access_request.to_decide and .extension_to_confirm, emergency_access_notice
        assert len(set(kinds[0])) == len(kinds[0]) == 11

    def test_a_gate_registered_in_one_app_is_not_in_another(self, settings: Settings) -> None:
        one, two = fresh(settings), fresh(settings)
        registries_of(one).of(Gates).register(None, CaseStatus.SCREENING, refuse_screening)
        assert [
            g.name
            for g in registries_of(one)
            .of(Gates)
            .for_transition(Scheme.ANKKURI, CaseStatus.SCREENING)
        ] == ["refuse_screening"]
        assert (
            registries_of(two).of(Gates).for_transition(Scheme.ANKKURI, CaseStatus.SCREENING) == []
        )

    def test_tasks_are_built_once_every_provider_registered(self, settings: Settings) -> None:
        providers = registries_of(fresh(settings)).of(TaskProviders)

        async def nothing(*_: Any) -> list[Any]:
            return []

        with pytest.raises(RuntimeError, match="after /me/tasks was built"):
            providers.register("late", nothing, ["late_kind"])


@pytest.fixture
async def other_client(
    settings: Settings, connection: AsyncConnection
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A second app in this process, on the same database connection as ``client``."""
    other = create_app(settings, database=Database.bound_to(connection))
    transport = httpx.ASGITransport(app=other, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield other, c


async def test_a_gate_binds_only_the_app_it_was_registered_in(
    client: httpx.AsyncClient, other_client: tuple[FastAPI, httpx.AsyncClient], world: World
) -> None:
    other, other_http = other_client
    registries_of(other).of(Gates).register(None, CaseStatus.SCREENING, refuse_screening)
    case = await open_case(client, world.police, world.ankkuri)
    body = assert_problem(await move(other_http, world.police, case, to="screening"), 422)
    assert body["gates"] == [{"gate": "refuse_screening", "detail": "Not in this app."}]
    assert (await move(client, world.police, case, to="screening")).status_code == 200

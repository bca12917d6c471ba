"""One transaction per request, opened and ended by the route (issue 13).

app/platform/routing.py ``SessionRoute`` replaced the ``yield`` dependency that
used to open the request's session. These tests pin what that dependency
gave: every route that takes the session opens one; the work commits before
the response is sent; an error, a refusal or a response that fails its model
rolls everything back; and a route that takes no session opens none.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.directory.models import Organisation
from app.main import create_app
from app.platform.config import Settings
from app.platform.db import Database, SessionDep
from app.platform.routing import SessionRoute, api_router, refuse_sessionless, uses_session
from tests.routes import api_routes


def test_every_route_that_takes_the_session_opens_it(settings: Settings) -> None:
    app = create_app(settings)
    taking = [route for route in api_routes(app) if uses_session(route)]
    assert len(taking) > 100
    stray = [route.path for route in taking if not isinstance(route, SessionRoute)]
    assert stray == []


def test_a_route_that_would_not_open_it_stops_the_start() -> None:
    app = FastAPI()
    stray = APIRouter()  # FastAPI's own route class: it would never open the session

    @stray.get("/stray")
    async def stray_route(session: SessionDep) -> dict[str, str]:
        return {}

    app.include_router(stray)
    with pytest.raises(RuntimeError, match="/stray"):
        refuse_sessionless(app)


def _code() -> str:
    return f"sr-{uuid.uuid4().hex[:12]}"


def _toy(connection: AsyncConnection) -> FastAPI:
    app = FastAPI()
    app.state.db = Database.bound_to(connection)
    router = api_router(tags=["toy"])

    @router.post("/orgs/{code}")
    async def made(code: str, session: SessionDep) -> dict[str, str]:
        session.add(Organisation(code=code, name="Toy", kind="social", version=1))
        await session.flush()
        return {"code": code}

    @router.post("/orgs/{code}/refused")
    async def refused(code: str, session: SessionDep) -> dict[str, str]:
        session.add(Organisation(code=code, name="Toy", kind="social", version=1))
        await session.flush()
        raise HTTPException(status_code=409, detail="no")

    @router.post("/orgs/{code}/broken", response_model=dict[str, int])
    async def broken(code: str, session: SessionDep) -> dict[str, str]:
        session.add(Organisation(code=code, name="Toy", kind="social", version=1))
        await session.flush()
        return {"code": code}  # not an int: the response fails its model

    @router.get("/plain")
    async def plain() -> dict[str, str]:
        return {"session": "none"}

    app.include_router(router)
    refuse_sessionless(app)
    return app


async def _count(connection: AsyncConnection, code: str) -> int:
    stmt = select(func.count()).select_from(Organisation).where(Organisation.code == code)
    return int((await connection.execute(stmt)).scalar_one())


async def test_the_work_commits_with_the_response_and_rolls_back_on_any_error(
    connection: AsyncConnection,
) -> None:
    app = _toy(connection)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        kept, refused, broken = _code(), _code(), _code()
        assert (await client.post(f"/orgs/{kept}")).status_code == 200
        assert await _count(connection, kept) == 1
        assert (await client.post(f"/orgs/{refused}/refused")).status_code == 409
        assert await _count(connection, refused) == 0
        assert (await client.post(f"/orgs/{broken}/broken")).status_code == 500
        assert await _count(connection, broken) == 0


async def test_a_route_that_takes_no_session_opens_none(connection: AsyncConnection) -> None:
    app = _toy(connection)
    del app.state.db  # opening a session now would fail loudly
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/plain")).json() == {"session": "none"}
        assert (await client.post(f"/orgs/{_code()}")).status_code == 500

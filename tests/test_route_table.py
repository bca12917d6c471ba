"""The flat route table (app/platform/routing.py, issue 13).

Every domain's inclusion is replaced by its routes, so a request is matched
once against one list. What must not change: the operation ids and the whole
OpenAPI document (tests/contract checks the committed file), the lifespans of
included routers, and inclusions that add something of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount

from app.main import create_app
from app.platform.config import Settings
from app.platform.routing import api_router, flatten, operation_id
from tests.routes import api_routes


def test_the_app_matches_one_flat_list(settings: Settings) -> None:
    app = create_app(settings)
    kinds = {type(entry) for entry in app.router.routes}
    # Routes (each a SessionRoute or a plain APIRoute) and mounts, no inclusions.
    assert all(issubclass(kind, (APIRoute, Mount)) for kind in kinds), kinds
    assert not any(hasattr(entry, "original_router") for entry in app.router.routes)
    flat = [r for r in app.router.routes if isinstance(r, APIRoute)]
    assert len(flat) == len(api_routes(app)) > 100
    assert all(r.unique_id == operation_id(r) for r in flat)


def _toy() -> tuple[FastAPI, list[str]]:
    ran: list[str] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ran.append("started")
        yield

    app = FastAPI(generate_unique_id_function=operation_id)
    plain = api_router(prefix="/api", tags=["toy"], lifespan=lifespan)

    @plain.get("/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    prefixed = api_router(tags=["toy"])

    @prefixed.get("/x")
    async def get_x() -> dict[str, str]:
        return {"at": "prefixed"}

    foreign = APIRouter(tags=["toy"])  # FastAPI's own ids: flattening would change them

    @foreign.get("/foreign")
    async def get_foreign() -> dict[str, str]:
        return {"at": "foreign"}

    app.include_router(plain)
    app.include_router(prefixed, prefix="/v2")
    app.include_router(foreign)
    return app, ran


async def test_only_plain_inclusions_are_flattened_and_all_still_answer() -> None:
    app, ran = _toy()
    before = app.openapi()
    app.openapi_schema = None
    assert flatten(app) == 1
    assert [type(e).__name__ for e in app.router.routes[-3:]] == [  # after the docs routes
        "SessionRoute",
        "_IncludedRouter",
        "_IncludedRouter",
    ]
    assert app.openapi() == before
    async with app.router.lifespan_context(app):
        assert ran == ["started"]  # the flattened router's lifespan still runs
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/things/7")).json() == {"id": 7}
            assert (await client.get("/api/things/x")).status_code == 422
            assert (await client.post("/api/things/7")).status_code == 405
            assert (await client.get("/v2/x")).json() == {"at": "prefixed"}
            assert (await client.get("/foreign")).json() == {"at": "foreign"}
            assert (await client.get("/nowhere")).status_code == 404


def test_an_inclusion_of_unknown_shape_is_kept() -> None:
    """Should FastAPI rename what an inclusion carries, it is kept as it is."""
    from types import SimpleNamespace

    from app.platform.routing import _plain

    router = api_router(tags=["toy"])
    odd = SimpleNamespace(original_router=router, include_context=SimpleNamespace(prefix=""))
    assert _plain(odd) is None  # type: ignore[arg-type]

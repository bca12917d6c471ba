"""Serve the real app, the bare baseline or a framework floor, for the benchmarks.

``python -m bench.serve app|baseline|floor-read|floor-audited PORT`` with the
CASECOORD_* environment set.

- ``baseline``: a bare Starlette endpoint that reads the same case row through
  an engine built by the same ``make_engine`` (same pool, same SQLite pragmas),
  with no authentication, authorisation, audit or response model.
- ``floor-read``: the same read as the app's stack does it, and nothing else: a
  FastAPI route, the request's session opened and committed as the app's
  routes do it, the case loaded as an ORM entity, a response model.
- ``floor-audited``: ``floor-read`` plus the access-log row, written the way the
  app writes it (``app.audit.service.record``, inserted before the COMMIT).

The two floors show what FastAPI and the ORM cost before the app does any of
its own work (token, caller, need-to-know, headers): a ladder from the bare
read to the app, each step measured in the same run (bench/README.md).
"""

from __future__ import annotations

import gc
import sys
import uuid
from datetime import datetime

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.audit import service as audit  # the app's own access-log writer
from app.cases.models import Case
from app.platform.config import Settings
from app.platform.db import Database, SessionDep, make_engine
from app.platform.routing import api_router


def baseline_app(database_url: str) -> Starlette:
    engine = make_engine(database_url)
    table = Case.__table__

    async def get_case(request: Request) -> JSONResponse:
        case_id = uuid.UUID(request.path_params["case_id"])
        async with engine.begin() as conn:
            row = (await conn.execute(select(table).where(table.c.id == case_id))).mappings().one()
        body = {k: (str(v) if v is not None else None) for k, v in row.items()}
        return JSONResponse(body)

    return Starlette(routes=[Route("/cases/{case_id}", get_case)])


class FloorCase(BaseModel):
    """A few of the case's columns: the floor's response model."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    scheme: str
    status: str
    version: int
    created_at: datetime


def floor_app(database_url: str, audited: bool) -> FastAPI:
    """FastAPI + the ORM reading the case (and, if ``audited``, logging the read):
    no token, no caller, no need-to-know, none of the app's middleware. The
    request's session is opened and committed as the app does it
    (``SessionRoute``), so the floor moves when that mechanism does."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.db = Database.from_url(database_url)
    router = api_router(tags=["floor"])

    @router.get("/cases/{case_id}", response_model=FloorCase)
    async def get_case(case_id: uuid.UUID, session: SessionDep) -> FloorCase:
        case = (await session.execute(select(Case).where(Case.id == case_id))).scalar_one()
        if audited:
            audit.record(session, None, "bench.floor.read", "case", case.id)
        return FloorCase.model_validate(case)

    app.include_router(router)
    return app


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    settings = Settings()
    if kind.startswith("app-workers-"):
        # Several worker processes, as `casecoord serve --workers N` runs them.
        uvicorn.run(
            "app.main:app_from_environment",
            factory=True,
            workers=int(kind.rsplit("-", 1)[1]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
        return
    app: Starlette
    if kind == "app":
        from app.main import served_app

        app = served_app(settings)  # as `casecoord serve` builds it
    elif kind.startswith("floor-"):
        app = floor_app(settings.effective_database_url, audited=kind == "floor-audited")
        gc.collect()
        gc.freeze()  # as served_app does: the same footing as the app
    else:
        app = baseline_app(settings.effective_database_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

"""Serve either the real app or the bare baseline, for the benchmarks.

``python -m bench.serve app|baseline PORT`` with the CASECOORD_* environment set.
The baseline is a bare Starlette endpoint that reads the same case row through
an engine built by the same ``make_engine`` (same pool, same SQLite pragmas),
with no authentication, authorisation, audit or response model.
"""

from __future__ import annotations

import sys
import uuid

import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.cases.models import Case
from app.platform.config import Settings
from app.platform.db import make_engine


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
    else:
        app = baseline_app(settings.effective_database_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

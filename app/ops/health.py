"""Operations endpoints: liveness, readiness, metrics, and offline API docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import Depends, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.auth.markers import public
from app.ops.migrate import head_revision
from app.platform.problems import instance_of, problem_response
from app.platform.routing import api_router

router = api_router(tags=["operations"])
STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS_STATIC = "/static-docs"


@router.get("/healthz", dependencies=[Depends(public("liveness"))])
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Depends(public("readiness"))], response_model=None)
async def readyz(request: Request) -> Any:
    """The database answers and is migrated to the head revision."""
    try:
        async with request.app.state.db.sessionmaker() as session:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:
        return problem_response(
            503,
            instance=instance_of(request),
            detail="The database is unreachable.",
            title="Service unavailable",
            type_="not-ready",
        )
    if current != head_revision():
        return problem_response(
            503,
            instance=instance_of(request),
            detail="Migrations are not at head.",
            title="Service unavailable",
            type_="not-ready",
        )
    return {"status": "ready", "revision": current}


@router.get("/metrics", dependencies=[Depends(public("metrics"))], include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition: counts and latency by route template, never raw paths."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/openapi.json", dependencies=[Depends(public("contract"))], include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[Depends(public("docs"))], include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="casecoord API",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
    )


@router.get("/redoc", dependencies=[Depends(public("docs"))], include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="casecoord API",
        redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
        redoc_favicon_url=f"{DOCS_STATIC}/favicon.png",
        with_google_fonts=False,
    )

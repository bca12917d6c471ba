"""The directory's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.auth.principal import PrincipalResolution
from app.directory.registration import resolve_principal
from app.directory.router import router
from app.platform.extensions import registries_of


def install(app: FastAPI) -> None:
    """Organisations, teams and users; verified claims resolve to directory users."""
    registries_of(app).of(PrincipalResolution).install(resolve_principal)
    app.include_router(router)

"""The persons domain's part of the extension point (app/platform/extensions.py)."""

from __future__ import annotations

from fastapi import FastAPI

from app.persons.router import router
from app.persons.router_consents import router as consents_router
from app.persons.router_facts import router as facts_router


def install(app: FastAPI) -> None:
    """Persons, their consents and their facts."""
    for each in (router, consents_router, facts_router):
        app.include_router(each)

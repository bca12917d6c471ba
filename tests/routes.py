"""Walk every route of the app, including those of included routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from app.auth.markers import ACTION_ATTR, RELATION_ATTR


def iter_routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        # Newer FastAPI keeps an included router as one entry that points at it.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from iter_routes(list(inner.routes))
        else:
            yield route


def api_routes(app: Any) -> list[APIRoute]:
    return [r for r in iter_routes(list(app.routes)) if isinstance(r, APIRoute)]


def mounts(app: Any) -> list[Mount]:
    return [r for r in iter_routes(list(app.routes)) if isinstance(r, Mount)]


def declared_actions(dependant: Dependant) -> list[str]:
    found = []
    if dependant.call is not None and hasattr(dependant.call, ACTION_ATTR):
        found.append(getattr(dependant.call, ACTION_ATTR))
    for sub in dependant.dependencies:
        found.extend(declared_actions(sub))
    return found


def declared_relations(dependant: Dependant) -> set[tuple[str, str, str]]:
    """The (action, where, relation) triples the route's loader dependencies enforce."""
    found: set[tuple[str, str, str]] = set()
    if dependant.call is not None:
        found.update(getattr(dependant.call, RELATION_ATTR, ()))
    for sub in dependant.dependencies:
        found |= declared_relations(sub)
    return found


def body_fields(dependant: Dependant) -> set[str]:
    """The top-level fields of the route's request body."""
    names: set[str] = set()
    for param in dependant.body_params:
        names |= set(getattr(param.field_info.annotation, "model_fields", None) or ())
    for sub in dependant.dependencies:
        names |= body_fields(sub)
    return names

"""The route table: operation ids, and one flat list of routes to match.

FastAPI 0.16x keeps each ``include_router`` as one entry that points at the
included router, and matches a request against an included router's routes
twice (once to find the router, once to pick its route), with scope
bookkeeping around every candidate. With some thirty routers that was a sixth
of an authorised read's Python (bench/README.md, issue 13). :func:`flatten`
replaces each plain inclusion (no prefix, tags, dependencies or other
settings of its own) by the routes themselves, so a request is matched once
against one list, as Starlette does. Every router is made by
:func:`api_router`, so a route's operation id (and the names FastAPI derives
from it for the OpenAPI document) are the same whether or not it is flattened;
an inclusion that is not plain stays as it is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute


def operation_id(route: APIRoute) -> str:
    """``<first tag>-<function name>``: the contract's operation ids."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes carry the contract's operation ids."""
    kwargs.setdefault("generate_unique_id_function", operation_id)
    return APIRouter(**kwargs)


def _plain(entry: BaseRoute) -> list[BaseRoute] | None:
    """The routes of an inclusion that adds nothing of its own, else None."""
    inner = getattr(entry, "original_router", None)
    context = getattr(entry, "include_context", None)
    if inner is None or context is None:
        return None
    # Read defensively: a FastAPI that names these otherwise keeps its inclusions.
    missing = object()
    settings = ("prefix", "tags", "dependencies", "responses", "callbacks", "deprecated")
    own = [getattr(context, name, missing) for name in (*settings, "max_body_size", "form_limits")]
    if any(value is missing or value for value in own):
        return None
    if getattr(context, "include_in_schema", False) is not True:
        return None
    routes = list(inner.routes)
    for route in routes:
        if not isinstance(route, APIRoute) or route.unique_id != operation_id(route):
            return None  # a nested inclusion, a mount, or another router's ids
    return routes


def flatten(app: FastAPI) -> int:
    """Replace every plain inclusion by its routes (in place, in order); returns
    how many inclusions were replaced."""
    flat: list[BaseRoute] = []
    replaced = 0
    for entry in app.router.routes:
        routes = _plain(entry)
        if routes is None:
            flat.append(entry)
        else:
            flat.extend(routes)
            replaced += 1
    app.router.routes[:] = flat
    return replaced

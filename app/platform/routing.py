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

from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.platform.db import SESSION_SCOPE_KEY, Database, get_session

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def operation_id(route: APIRoute) -> str:
    """``<first tag>-<function name>``: the contract's operation ids."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def _calls(dependant: Dependant) -> Iterator[Any]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def uses_session(route: APIRoute) -> bool:
    """Whether anything the route depends on takes the request's session."""
    return any(call is get_session for call in _calls(route.dependant))


class SessionRoute(APIRoute):
    """A route whose request is one transaction, opened and ended here.

    The session is opened before the dependencies are solved, handed to them by
    :func:`app.platform.db.get_session`, committed once the response is built
    and before it is sent, and rolled back on any exception, before the
    exception handlers run (they write a denial's audit row in a transaction
    of their own). This was a ``yield`` dependency; FastAPI's machinery for
    one (exit stacks, context managers, a greenlet hop each way) was about a
    twentieth of an authorised read (bench/README.md, issue 13). A route that
    never takes the session opens none.
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not uses_session(self):
            return handler

        async def in_transaction(request: Request) -> Response:
            db: Database = request.app.state.db
            async with db.sessionmaker() as session:
                request.scope[SESSION_SCOPE_KEY] = session
                try:
                    response = await handler(request)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
            return response

        return in_transaction


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes carry the contract's operation ids and run in
    one transaction each (:class:`SessionRoute`)."""
    kwargs.setdefault("generate_unique_id_function", operation_id)
    kwargs.setdefault("route_class", SessionRoute)
    return APIRouter(**kwargs)


def flat_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every route with the path prefix it is served under, through inclusions
    (FastAPI keeps an included router as one entry that points at it)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield prefix, route
            continue
        context = getattr(route, "include_context", None)
        yield from flat_routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))


def refuse_sessionless(app: FastAPI) -> None:
    """Stop at start-up if a route takes the session but would not open one."""
    stray = [
        f"{sorted(route.methods or ())} {prefix}{route.path}"
        for prefix, route in flat_routes(app.router.routes)
        if isinstance(route, APIRoute)
        and uses_session(route)
        and not isinstance(route, SessionRoute)
    ]
    if stray:
        raise RuntimeError(f"routes that take the session must be SessionRoutes: {stray}")


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

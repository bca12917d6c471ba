"""No route dependency runs in the thread pool.

FastAPI runs a plain ``def`` dependency in a worker thread: a thread hand-off on
every request that uses it (issue 13, bench/README.md). Every dependency of
every route is a coroutine (or an async generator, or an object whose
``__call__`` is one), so a request never waits for a thread to look up a
setting.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.dependencies.models import Dependant

from app.main import create_app
from app.platform.config import Settings
from tests.routes import api_routes


def _is_async(call: Any) -> bool:
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else call.__call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _sync_dependencies(dependant: Dependant, path: str, out: set[str]) -> None:
    for dep in dependant.dependencies:
        if dep.call is not None and not _is_async(dep.call):
            out.add(f"{path}: {getattr(dep.call, '__qualname__', repr(dep.call))}")
        _sync_dependencies(dep, path, out)


def test_every_dependency_is_async(settings: Settings) -> None:
    app = create_app(settings)
    found: set[str] = set()
    routes = api_routes(app)
    assert len(routes) > 100
    for route in routes:
        _sync_dependencies(route.dependant, f"{sorted(route.methods)} {route.path}", found)
    assert found == set()

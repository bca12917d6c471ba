"""The one extension point: each domain's ``install(app)`` and the app's registries.

A domain never reaches into another at import time. Instead, every domain
package has an ``install.py`` whose ``install(app)`` includes the domain's
routers and registers what it adds to lower domains (lifecycle gates,
``/me/tasks`` providers, the principal resolver, the denial hook) into the
*application's* registries. ``create_app`` (app/main.py) calls the installs in
dependency order, so lower domains have registered before higher ones extend
them.

The registries live on ``app.state.registries``, never in module globals: two
apps in one process (tests) never share a gate or a provider. A registry is any
class with a no-argument constructor, owned by the module that defines what it
holds (``Gates`` in app/cases/lifecycle.py, ``TaskProviders`` in
app/worklist/registry.py, ...); this module knows no domain. Code that needs one
takes it from the request (:func:`registry` as a dependency) or as a parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar, cast

from fastapi import FastAPI, Request

T = TypeVar("T")
HookT = TypeVar("HookT")


class Registries:
    """One instance of each registry type, per application."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], Any] = {}

    def of(self, kind: type[T]) -> T:
        """The app's registry of this type (made empty on first use)."""
        found = self._by_type.get(kind)
        if found is None:
            found = self._by_type[kind] = kind()
        return cast(T, found)


def registries_of(app: FastAPI) -> Registries:
    state = app.state
    if not hasattr(state, "registries"):
        state.registries = Registries()
    found: Registries = state.registries
    return found


def registry(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency that yields the request's app's registry of ``kind``."""

    async def dependency(request: Request) -> T:
        return registries_of(request.app).of(kind)

    dependency.__name__ = f"registry_{kind.__name__}"
    return dependency


class Hooks(Generic[HookT]):
    """A registry of hooks of one ``kind``, called in the order the installs registered
    them; a hook registered twice is a wiring error."""

    kind: ClassVar[str] = "hook"

    def __init__(self) -> None:
        self.hooks: list[HookT] = []

    def register(self, hook: HookT) -> None:
        if hook in self.hooks:
            name = getattr(hook, "__name__", hook)
            raise RuntimeError(f"{self.kind} hook {name} registered twice")
        self.hooks.append(hook)

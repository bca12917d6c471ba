"""``casecoord serve`` freezes the start-up heap of the app it serves (issue 13:
full garbage collections over the start-up objects were the p99 of a read)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from app import cli, main
from app.platform.config import Settings


def test_the_served_app_is_built_then_frozen(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_create = main.create_app

    def create(*args: Any, **kwargs: Any) -> Any:
        events.append("built")
        return real_create(*args, **kwargs)

    monkeypatch.setattr(main, "create_app", create)
    monkeypatch.setattr(gc, "collect", lambda *a: events.append("collected") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: events.append("frozen"))
    app = main.served_app(settings)
    assert app.title == "casecoord"
    assert events == ["built", "collected", "frozen"]


def test_every_serve_path_uses_the_served_app() -> None:
    """One worker (cli.serve) and several (the factory uvicorn imports per worker)."""
    assert "served_app" in cli.serve.__code__.co_names
    assert "create_app" not in cli.serve.__code__.co_names
    assert "served_app" in main.app_from_environment.__code__.co_names

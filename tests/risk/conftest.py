"""Fixtures for the risk tests: a settable clock and the area configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time

import pytest

from app.platform.clock import clock
from app.risk import config as risk_config
from app.risk.config import RiskConfig


@pytest.fixture
def freeze() -> Iterator[Callable[[date], None]]:
    """``freeze(date(2026, 6, 15))``: the risk clock stands at noon of that Finnish day."""

    def at(day: date) -> None:
        clock.freeze(datetime.combine(day, time(10, 0), UTC))

    yield at
    clock.unfreeze()


@pytest.fixture
def configure() -> Iterator[Callable[[RiskConfig], None]]:
    """Swap the area configuration for one test (restored afterwards)."""
    before = risk_config.current()
    yield risk_config.configure
    risk_config.configure(before)

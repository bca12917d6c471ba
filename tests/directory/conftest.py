"""The admin every directory test arranges with."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
async def admin(make_actor: Any) -> Any:
    return await make_actor("admin", org="casecoord-ops")

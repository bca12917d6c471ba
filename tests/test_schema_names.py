"""Every schema in the contract has a name of its own.

Two Pydantic models with one class name make FastAPI fall back to module-qualified
names (``app__webhooks__schemas__DeliveryRead``), which generators reject (an
access-request ``DeliveryRead`` next to the webhooks' one did exactly that, and
only the generated-client step of CI noticed)."""

from __future__ import annotations

from typing import Any


def test_no_schema_name_is_module_qualified(app: Any) -> None:
    names = app.openapi()["components"]["schemas"]
    qualified = sorted(name for name in names if "__" in name)
    assert qualified == [], f"rename the model classes so their names are unique: {qualified}"

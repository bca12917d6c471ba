"""The error half of the OpenAPI contract: every operation declares its problem responses.

FastAPI declares a 422 with its own ``HTTPValidationError`` body, which this
service never sends. Here every operation instead declares:

- ``422``: a validation problem (RFC 9457 with ``errors``: field, location and
  reason, never the value);
- ``4XX``: any other client error as ``application/problem+json`` (401, 403,
  404, 409, 412, 413, 415, 428, 429 depend on the caller and the data).

A 5xx is never declared: it is a bug, and the fuzzing in CI fails on one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.platform.problems import PROBLEM_JSON

PROBLEM = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
FIELD_ERROR = {
    "title": "FieldError",
    "type": "object",
    "required": ["field", "location", "reason"],
    "properties": {
        "field": {"type": "string"},
        "location": {"type": "string"},
        "reason": {"type": "string"},
        "message": {"type": "string"},
    },
}
VALIDATION_PROBLEM = {
    "title": "ValidationProblem",
    "description": "A 422: the fields at fault, never the values sent.",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
            },
        },
    ],
}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _response(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": ref}}}


def declare_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare the problem responses of every operation (in place; idempotent)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(Problem=PROBLEM, FieldError=FIELD_ERROR, ValidationProblem=VALIDATION_PROBLEM)
    for operations in spec.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses["422"] = _response("Validation error", "ValidationProblem")
            responses["4XX"] = _response("Client error", "Problem")
    return spec


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the contract with the problem responses declared."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

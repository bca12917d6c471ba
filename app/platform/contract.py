"""What the OpenAPI document promises beyond what FastAPI derives from the routes.

FastAPI documents a 422 with its own ``HTTPValidationError``, which this service
never sends, and says nothing of the other errors, the headers or which
operations need ``If-Match``. :func:`complete` fills that in from the routes
themselves, so the contract cannot drift from them:

- every error is ``application/problem+json`` with the one ``Problem`` schema
  (RFC 9457 plus this service's extension members), declared per status an
  operation can return: 401, 403 and 429 on every authenticated operation; 404
  where the path names an object; 409 on every change; 412 and 428 where
  ``If-Match`` is read; 413 and 415 where a body is read; 422 where anything
  is read; 400 where a body is parsed; ``4XX`` for anything else;
  ``Retry-After`` on 429 (and on the 409 of a create still in flight);
- ``If-Match`` is *required* wherever it is read (the server answers 428 without
  it), and ``Idempotency-Key`` is declared on every create;
- success responses declare ``ETag`` (when the body carries a ``version``),
  ``Location`` (on 201) and ``Idempotent-Replayed`` (on creates);
- tags are declared with descriptions and ``servers`` with this server;
- a hand-written response schema marked ``x-component`` (the FHIR resources)
  becomes a named component instead of an inline schema.

A 5xx is never declared: it is a bug, and the fuzzing in CI fails on one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.platform.problems import PROBLEM_JSON

_STRINGS = {"type": "array", "items": {"type": "string"}}
PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "RFC 9457 problem details. ``type``, ``title``, ``status``, ``detail`` and "
        "``instance`` are always present; the other members appear where they apply. "
        "No member ever echoes a submitted value."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/FieldError"},
            "description": "422: the fields at fault (never their values).",
        },
        "from": {"type": "string", "description": "409 on a transition: the current state."},
        "to": {"type": "string", "description": "409 on a transition: the state asked for."},
        "allowed": {**_STRINGS, "description": "409 on a transition: the states you may move to."},
        "gates": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/FailedGate"},
            "description": "409 on a gated transition: the conditions not met.",
        },
        "current_etag": {"type": "string", "description": "412: the ETag to re-read."},
        "version": {"type": "integer", "description": "409 on a plan: the version in the way."},
        "grant_id": {"type": "string", "description": "409: your emergency grant still active."},
        "expires_at": {"type": "string", "format": "date-time"},
        "match": {
            "type": "object",
            "additionalProperties": True,
            "description": "409 on a person create: the handle of the existing record.",
        },
    },
}
FAILED_GATE: dict[str, Any] = {
    "title": "FailedGate",
    "type": "object",
    "required": ["gate", "detail"],
    "properties": {"gate": {"type": "string"}, "detail": {"type": "string"}},
    "additionalProperties": True,
}
FIELD_ERROR: dict[str, Any] = {
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
ERRORS = {
    400: "The body is not parseable JSON.",
    401: "No valid bearer token: missing, malformed, expired or revoked.",
    403: "Your role may not do this.",
    404: "No such object, or not one you may see.",
    409: "Conflicts with the current state (see the extension members).",
    412: "If-Match does not match the current ETag (see current_etag).",
    413: "The body is larger than the server accepts.",
    415: "The body is not application/json.",
    422: "A field or parameter is invalid (see errors).",
    428: "This change needs If-Match with the ETag you read.",
    429: "Too many requests; retry after Retry-After seconds.",
}
HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": "The version you read; send it back as If-Match to change it."},
    "Location": {"description": "Where the created object is read."},
    "Idempotent-Replayed": {
        "description": "true when this answers a retry of an earlier create (same key).",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    },
}
TAGS = {
    "operations": "Health, readiness, metrics and the offline docs. No token needed.",
    "directory": "Organisations, users, teams and team membership; the caller's own profile.",
    "audit": "The access log: who read or changed what, and why. Auditors only.",
    "cases": "Cases, their members, participants, notes, transitions and must-not-receive lists.",
    "persons": "People, visible only through a case you may read; facts, consents, access reports.",
    "concerns": "Concerns sent to a team before there is a case, and their screening.",
    "risk": "Risk instruments, assessments, incidents and external assessments.",
    "plans": "Safety plans, measures and the printable plan document.",
    "meetings": "Marak meetings: agenda, attendance and decisions.",
    "tasks": "What the caller must act on, most urgent first.",
    "services": "The directory of services cases can be referred to.",
    "referrals": "Referrals to services, from the referrer's and the provider's side.",
    "fhir": "Referrals as FHIR R4 ServiceRequest and Task resources.",
    "events": "The event feed: what changed on objects you may see, ids only, to poll.",
}
SERVERS = [{"url": "/", "description": "This server"}]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
CHANGES = {"post", "put", "patch", "delete"}


def _problem(status: int, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    response: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {PROBLEM_JSON: {"schema": ref}},
    }
    if headers:
        response["headers"] = {name: _header(name, required=False) for name in headers}
    return response


def _header(name: str, *, required: bool) -> dict[str, Any]:
    spec = {"schema": {"type": "string"}, **HEADERS[name]}
    return {**spec, "required": required} if required else spec


def _schema_of(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    content = response.get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        resolved: dict[str, Any] = spec["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
        return resolved
    return dict(schema)


def _complete_operation(spec: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> None:
    params = op.setdefault("parameters", [])
    names = {p["name"] for p in params}
    for param in params:
        if param["name"] == "If-Match":
            param["required"] = True
            param["schema"] = {"type": "string", "description": param.get("description", "")}
    secured = bool(op.get("security"))
    reads = bool(params) or "requestBody" in op
    statuses: list[int] = []
    if secured:
        statuses += [401, 403]
    if "{" in path:
        statuses.append(404)
    if method in CHANGES and secured:
        statuses.append(409)
    if "If-Match" in names:
        statuses += [412, 428]
    if "requestBody" in op:
        statuses += [400, 413, 415]
    if reads or secured:
        statuses.append(422)
    if secured:
        statuses.append(429)
    responses = op.setdefault("responses", {})
    for status in sorted(set(statuses)):
        extra = ("Retry-After",) if status == 429 or (status == 409 and method == "post") else ()
        responses[str(status)] = _problem(status, extra)
    # Anything else (a 405 on a path's other methods, say) is still a problem.
    responses["4XX"] = {
        "description": "Any other client error.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    creates = "Idempotency-Key" in names
    for code, response in responses.items():
        if not code.startswith("2"):
            continue
        headers = response.setdefault("headers", {})
        if "version" in _schema_of(spec, response).get("properties", {}):
            headers["ETag"] = _header("ETag", required=False)
        if code == "201":
            headers["Location"] = _header("Location", required=False)
        if creates:
            headers["Idempotent-Replayed"] = _header("Idempotent-Replayed", required=False)
        if not headers:
            del response["headers"]


def _hoist(node: Any, schemas: dict[str, Any]) -> Any:
    """Replace each inline schema marked ``x-component`` by a $ref to its own component."""
    if isinstance(node, list):
        return [_hoist(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    inner = {key: _hoist(value, schemas) for key, value in node.items() if key != "x-component"}
    if node.get("x-component"):
        schemas[inner["title"]] = inner
        return {"$ref": f"#/components/schemas/{inner['title']}"}
    return inner


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare errors, headers, tags and servers on ``spec`` (in place; idempotent)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ValidationProblem"):
        schemas.pop(name, None)
    schemas.update(Problem=PROBLEM, FieldError=FIELD_ERROR, FailedGate=FAILED_GATE)
    used: set[str] = set()
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            if method in METHODS:
                op["responses"] = _hoist(op.get("responses", {}), schemas)
                _complete_operation(spec, path, method, op)
                used.update(op.get("tags", []))
    spec["tags"] = [{"name": t, "description": TAGS.get(t, t)} for t in sorted(used)]
    spec["servers"] = SERVERS
    return spec


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed contract."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""RFC 9457 problem details: every error leaves the service as problem+json.

Domain code raises a :class:`DomainError` subclass that carries its own status
and type; one set of handlers renders them. Validation errors list the fields
at fault but never echo the submitted values, which may be personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.platform.extensions import Hooks, registries_of
from app.platform.routing import flat_routes

log = logging.getLogger("casecoord.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://casecoord.example/problems/"


_STATUS_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Unprocessable content"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal server error"),
}


@dataclass(frozen=True)
class DeniedAccess:
    """What a refused request tried, so the denial can be audited after rollback."""

    action: str
    target_type: str | None = None
    target_id: str | None = None
    reason: str = ""
    actor: Any = None  # a Principal, or None when no token was accepted
    extra: dict[str, Any] = field(default_factory=dict)


def denial(
    action: str, actor: Any, target_type: str | None, target_id: object, reason: str
) -> DeniedAccess:
    """The audit record of a refusal: ``actor`` tried ``action`` on that target (none
    when ``target_id`` is None), refused for ``reason``."""
    target = None if target_id is None else str(target_id)
    return DeniedAccess(action, target_type, target, reason, actor)


class DomainError(Exception):
    """A refusal with its own status; ``class X(DomainError, status=404)`` takes the
    type and title of that status from the one table above."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init_subclass__(cls, *, status: int | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if status is not None:
            cls.status = status
            cls.type, cls.title = _STATUS_TITLES[status]

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        denied: DeniedAccess | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}
        self.denied = denied


class Unauthorized(DomainError, status=401):
    """No valid bearer token; the answer carries ``WWW-Authenticate``."""

    def __init__(self, detail: str = "A valid bearer token is required.", **kw: Any) -> None:
        headers = kw.pop("headers", None) or {}
        headers.setdefault("WWW-Authenticate", 'Bearer realm="casecoord", error="invalid_token"')
        super().__init__(detail, headers=headers, **kw)


class Forbidden(DomainError, status=403):
    """The caller's role may not do this."""


class NotFound(DomainError, status=404):
    """No such object, or not one the caller may see."""


class Conflict(DomainError, status=409):
    """The request conflicts with the current state."""


class PreconditionFailed(DomainError, status=412):
    """If-Match does not match the current version."""


class PayloadTooLarge(DomainError, status=413):
    """The body is larger than the server accepts."""


class UnsupportedMediaType(DomainError, status=415):
    """The body is not JSON."""


class Unprocessable(DomainError, status=422):
    """A field or parameter is invalid."""


def field_error(
    field: str,
    detail: str,
    reason: str = "invalid",
    *,
    location: str = "body",
    denied: DeniedAccess | None = None,
) -> Unprocessable:
    """The one way to refuse a single field: a 422 whose ``errors`` name it.

    The same shape as a validation problem's errors (field, location, reason),
    never the value sent. ``raise field_error("team_id", "No such team.", "not_found")``.
    """
    error = {"field": field, "location": location, "reason": reason}
    return Unprocessable(detail, extra={"errors": [error]}, denied=denied)


class PreconditionRequired(DomainError, status=428):
    """The change needs If-Match."""


class TooManyRequests(DomainError, status=429):
    """Too many requests."""


def problem_response(
    status: int,
    *,
    instance: str,
    detail: str | None = None,
    type_: str | None = None,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    default_type, default_title = _STATUS_TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": TYPE_BASE + (type_ or default_type),
        "title": title or default_title,
        "status": status,
        "detail": detail or title or default_title,
        "instance": instance,
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def internal_error_response(instance: str) -> JSONResponse:
    """The 500: no exception text, no stack trace, just the request id to quote."""
    return problem_response(
        500,
        instance=instance,
        detail="An unexpected error occurred. It has been logged with the request id.",
    )


def instance_of(request: Request) -> str:
    """The problem ``instance``: the request id, which the caller can quote to support."""
    rid = request.scope.get("state", {}).get("request_id") or getattr(
        request.state, "request_id", None
    )
    return f"urn:casecoord:request:{rid}" if rid else request.url.path


_instance = instance_of


def _safe_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field locations and reasons, never the submitted ``input`` values."""
    out = []
    for err in exc.errors():
        out.append(
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "location": str(err.get("loc", ("body",))[0]),
                "reason": err.get("type", "invalid"),
                "message": _scrub(str(err.get("msg", "invalid value"))),
            }
        )
    return out


_QUOTES = ("'", '"', "`")


def _scrub(message: str) -> str:
    # Pydantic messages can quote the input ("Input should be ... not 'x'",
    # "invalid character: found `V` at 0"). Keep the rule, drop anything quoted.
    head = message
    for quote in _QUOTES:
        head = head.split(quote, 1)[0]
    if head != message:
        return head.rstrip(" :,") or "invalid value"
    return message


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path, for a 405's ``Allow``.

    Starlette answers with the methods of the first route whose path matched,
    but each FastAPI operation is a route of its own: ``GET`` and ``PATCH`` of
    one path would otherwise advertise only ``GET``.
    """
    path: str = request.scope.get("path", "")
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    methods: set[str] = set()
    for prefix, route in flat_routes(request.app.router.routes):
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        if not route_methods or regex is None or not path.startswith(prefix):
            continue
        if regex.match(path[len(prefix) :]):
            methods.update(route_methods)
    return sorted(methods)


DenialHook = Callable[[Request, DeniedAccess, int], Awaitable[None]]


class DenialHooks(Hooks[DenialHook]):
    """The app's hooks for a refused request (the audit domain installs its record)."""

    kind = "denial"


def install_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        if exc.denied is not None:
            for on_denied in registries_of(request.app).of(DenialHooks).hooks:
                await on_denied(request, exc.denied, exc.status)
        return problem_response(
            exc.status,
            instance=_instance(request),
            detail=exc.detail,
            type_=exc.type,
            title=exc.title,
            extra=exc.extra,
            headers=exc.headers,
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            instance=_instance(request),
            detail="The request is not valid; see 'errors'.",
            extra={"errors": _safe_errors(exc)},
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers) if exc.headers else {}
        methods = allowed_methods(request) if exc.status_code == 405 else []
        if methods:  # else keep what the raiser said (a mount serves its own methods)
            headers["Allow"] = ", ".join(methods)
        return problem_response(
            exc.status_code,
            instance=_instance(request),
            detail=detail,
            headers=headers or None,
        )

    async def unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return internal_error_response(_instance(request))

    async def stale(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            412,
            instance=_instance(request),
            detail="The resource was changed by someone else; re-read it and retry.",
        )

    async def integrity(request: Request, exc: Exception) -> JSONResponse:
        log.info("integrity conflict", extra={"error_type": type(exc).__name__})
        return problem_response(
            409,
            instance=_instance(request),
            detail="The request conflicts with existing data (a duplicate or a missing reference).",
        )

    app.add_exception_handler(StaleDataError, stale)
    app.add_exception_handler(IntegrityError, integrity)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unhandled)

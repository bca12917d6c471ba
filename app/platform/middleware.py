"""The outermost ASGI layer: request id, body limit, content type, headers, metrics.

Pure ASGI (no BaseHTTPMiddleware) so streaming bodies are counted as they
arrive and nothing is buffered twice.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform import context as requestctx
from app.platform.problems import PROBLEM_JSON, TYPE_BASE, internal_error_response

access_log = logging.getLogger("casecoord.access")
error_log = logging.getLogger("casecoord.errors")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
#: Metric labels take the method only from this set, so a client inventing
#: methods cannot grow the label space (and the process's memory) without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
JSON_TYPES = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; "
    b"frame-ancestors 'none'"
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "casecoord_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "casecoord_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )


def _problem(status: int, title: str, detail: str, rid: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps(
        {
            "type": TYPE_BASE + title.lower().replace(" ", "-"),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": f"urn:casecoord:request:{rid}",
        }
    ).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, body


#: The request headers the edge reads (the request id, the body's framing and type).
EDGE_HEADERS = frozenset(
    {b"x-request-id", b"content-length", b"transfer-encoding", b"content-type"}
)


def _edge_headers(scope: Scope) -> dict[str, str]:
    """The :data:`EDGE_HEADERS` of the request, the last one winning as in a dict of
    all of them (only these are decoded: this runs for every request)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        name = name.lower()
        if name in EDGE_HEADERS:
            found[name.decode("latin-1")] = value.decode("latin-1")
    return found


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _edge_headers(scope)
        incoming = headers.get("x-request-id", "")
        rid = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        client = scope.get("client")
        tokens = (
            requestctx.request_id.set(rid),
            requestctx.client_ip.set(client[0] if client else None),
            requestctx.emergency_grant_id.set(None),
        )
        path: str = scope["path"]
        is_docs = path in {"/docs", "/redoc"} or path.startswith("/static-docs/")
        status_holder = {"status": 500}
        response_started = False
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder["status"] = message["status"]
                extra = [*SECURITY_HEADERS, (b"x-request-id", rid.encode())]
                # A route may narrow the policy itself (the printable plan allows its own
                # stylesheet by hash); otherwise the API's deny-all policy applies.
                own = message.get("headers", [])
                if not any(k.lower() == b"content-security-policy" for k, _ in own):
                    extra.append((b"content-security-policy", DOCS_CSP if is_docs else API_CSP))
                if not path.startswith("/static-docs/"):
                    extra.append((b"cache-control", b"no-store"))
                    extra.append((b"pragma", b"no-cache"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            refusal = self._refuse(scope, headers)
            if refusal is not None:
                start, body = _problem(*refusal, rid)
                await send_wrapper(start)
                await send_wrapper({"type": "http.response.body", "body": body})
                return
            try:
                await self.app(scope, self._limited(receive), send_wrapper)
            except Exception as exc:
                # Starlette renders unhandled errors outside every user middleware,
                # which would drop the request id and the security headers. Answer
                # here instead, through send_wrapper, with the same problem body.
                if response_started:
                    raise
                error_log.exception("unhandled error", extra={"error_type": type(exc).__name__})
                response = internal_error_response(f"urn:casecoord:request:{rid}")
                await response(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            self.metrics.requests.labels(method, template, status_holder["status"]).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "route": template,
                    "status": status_holder["status"],
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            requestctx.request_id.reset(tokens[0])
            requestctx.client_ip.reset(tokens[1])
            requestctx.emergency_grant_id.reset(tokens[2])

    def _refuse(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "Bad request", "Content-Length is not a number."
            if int(length) > self.max_body:
                return 413, "Payload too large", f"The body exceeds {self.max_body} bytes."
        has_body = (length is not None and int(length) > 0) or "transfer-encoding" in headers
        if scope["method"] in BODY_METHODS and has_body:
            ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if not JSON_TYPES.match(ctype):
                return 415, "Unsupported media type", "Send the body as application/json."
        return None

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, f"The body exceeds {limit} bytes.")
            return message

        return wrapped

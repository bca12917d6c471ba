"""The input policy: what any value a client sends must satisfy before it reaches code.

One policy, enforced in two places that share its rules (:func:`refusal`):

- **The schema base** :class:`Input`, which every request body model derives
  from: unknown fields are refused, strings are stripped, and every field value
  (nested lists and dicts included) must be free of NUL characters, its
  integers must fit 64 bits, its numbers must be finite and its date-times must
  be convertible to UTC without leaving the year range. The query-parameter
  type :data:`UtcDatetime` and the cursor decoder apply the same rules.
- **The edge** (:class:`InputPolicyMiddleware`): a JSON body is decoded
  strictly -- duplicate keys, ``NaN``/``Infinity`` and over-deep nesting are
  refused, as is anything :func:`refusal` refuses -- and NUL characters are
  refused in the path, the query string and header values. The body is then
  handed on unchanged; non-JSON bodies are not touched.

Every refusal is a 422 problem+json naming the location and the field, never
the value (which may be personal data). PostgreSQL rejects NUL in text and
both databases overflow on integers beyond 64 bits, so refusing them here
makes the answer the same on both and keeps a 5xx out of reach.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform.problems import problem_response

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Deeper JSON than this is refused (no request body of the API nests half as deep).
MAX_DEPTH = 32
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

#: reason code -> the message shown to the caller (no values quoted).
MESSAGES = {
    "nul_character": "NUL characters are not accepted",
    "integer_out_of_range": "The integer does not fit in 64 bits",
    "number_not_finite": "Only finite numbers are accepted",
    "datetime_out_of_range": "The date-time is out of range when converted to UTC",
    "datetime_timezone": "The date-time needs a timezone offset",
    "duplicate_key": "The key appears more than once in the object",
    "nesting_too_deep": f"The JSON nests deeper than {MAX_DEPTH} levels",
}


def refusal(value: Any) -> str | None:
    """The reason code when a scalar breaks the policy, else None."""
    if isinstance(value, str):
        return "nul_character" if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else "integer_out_of_range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "number_not_finite"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None  # the field's own type decides about naive values
        try:
            value.astimezone(UTC)
        except (OverflowError, ValueError):
            return "datetime_out_of_range"
        return None
    return None


def violations(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Each (path, reason) in a value, descending into lists and dicts but not models."""
    if len(path) > MAX_DEPTH:
        yield path, "nesting_too_deep"
        return
    if isinstance(value, _Duplicated):
        yield (*path, value.key), "duplicate_key"
    if isinstance(value, _HugeInt):
        yield path, "integer_out_of_range"
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield (*path, "?"), "nul_character"
            yield from violations(item, (*path, key))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from violations(item, (*path, index))
    else:
        reason = refusal(value)
        if reason:
            yield path, reason


def _policy_error(reason: str) -> PydanticCustomError:
    return PydanticCustomError(reason, MESSAGES[reason])


def _utc_convertible(value: datetime) -> datetime:
    reason = refusal(value)
    if reason:
        raise _policy_error(reason)
    return value


#: An aware date-time that converts to UTC: the one type for date-times in queries.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc_convertible)]


class Input(BaseModel):
    """The base of every request body: the input policy in one place."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _input_policy(cls, value: Any) -> Any:
        for _, reason in violations(value):
            raise _policy_error(reason)
        return value


# --- strict JSON at the edge -----------------------------------------------------------


class _Duplicated(dict[str, Any]):
    """An object that had a key twice; remembers which, so the walk can name it."""

    key: str = ""


class _HugeInt:
    """An integer literal too long to convert (the walk reports it by its path)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            out = _Duplicated(pairs)
            out.key = key
            return out
        seen.add(key)
    return dict(pairs)


def _parse_int(text: str) -> Any:
    return _HugeInt() if len(text) > 20 else int(text)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _constant(name: str) -> Any:
    raise _Refused("number_not_finite")


def strict_violations(body: bytes) -> list[dict[str, str]] | None:
    """Policy errors in a JSON body; None when it is not JSON (left to the route)."""
    try:
        data = json.loads(
            body, object_pairs_hook=_pairs, parse_int=_parse_int, parse_constant=_constant
        )
    except _Refused as exc:
        return [_error(("body",), exc.reason)]
    except RecursionError:
        return [_error(("body",), "nesting_too_deep")]
    except ValueError:  # not JSON, or not UTF-8: the route's own parser answers
        return None
    found = [_error(("body", *path), reason) for path, reason in violations(data)]
    return found[:20]


def _error(loc: tuple[Any, ...], reason: str) -> dict[str, str]:
    field = ".".join(str(p) for p in loc[1:]) or loc[0]
    return {"field": field, "location": str(loc[0]), "reason": reason, "message": MESSAGES[reason]}


class InputPolicyMiddleware:
    """Refuse NUL in path, query and headers, and non-strict JSON bodies, with a 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = _nul_errors(scope)
        if errors:
            await _refuse(scope, receive, send, errors)
            return
        if scope["method"] not in BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except StarletteHTTPException as exc:  # the edge's body limit
            response = problem_response(
                exc.status_code, instance=_instance(scope), detail=str(exc.detail)
            )
            await response(scope, receive, send)
            return
        found = strict_violations(body) if body.strip() else None
        if found:
            await _refuse(scope, receive, send, found)
            return
        await self.app(scope, _replay(body, receive), send)


def _nul_errors(scope: Scope) -> list[dict[str, str]]:
    errors = []
    if "\x00" in scope["path"]:
        errors.append(_error(("path",), "nul_character"))
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        if "\x00" in key or "\x00" in value:
            errors.append(_error(("query", key.replace("\x00", "?")), "nul_character"))
    for name, value in scope["headers"]:
        if b"\x00" in value or b"\x00" in name:
            label = name.replace(b"\x00", b"?").decode("latin-1")
            errors.append(_error(("header", label), "nul_character"))
    return errors


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name.lower() == b"content-type":
            ctype = value.decode("latin-1").split(";", 1)[0].strip().lower()
            return bool(ctype == "application/json" or ctype.endswith("+json"))
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _instance(scope: Scope) -> str:
    rid = scope.get("state", {}).get("request_id")
    return f"urn:casecoord:request:{rid}" if rid else str(scope.get("path", ""))


async def _refuse(scope: Scope, receive: Receive, send: Send, errors: list[dict[str, str]]) -> None:
    response = problem_response(
        422,
        instance=_instance(scope),
        detail="The request is not valid; see 'errors'.",
        extra={"errors": errors},
    )
    await response(scope, receive, send)

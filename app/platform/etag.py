"""ETags and If-Match: the ``version`` column is the entity tag.

PATCH, PUT and DELETE must send ``If-Match``: missing gives 428, stale gives
412. The UPDATE itself also carries ``WHERE version = n``, so even two requests
that both pass the header check cannot both win.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Header, Response

from app.platform.inputs import INT64_MAX
from app.platform.problems import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


T = TypeVar("T")


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def tagged(response: Response, version: int, body: T) -> T:
    """``body``, to be returned with ``version`` as the response's ETag."""
    set_etag(response, version)
    return body


def set_created(response: Response, version: int, location: str) -> None:
    """The ETag and Location of what a POST created."""
    set_etag(response, version)
    response.headers["Location"] = location


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", description="The ETag you read; required on changes."),
    ] = None,
) -> int:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("This change needs an If-Match header with the current ETag.")
    value = if_match.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    # A version is a 64-bit integer: a longer tag (thousands of digits) cannot match
    # one, and must not reach int() or the database.
    if not value.isdigit() or not value.isascii() or len(value) > 19 or int(value) > INT64_MAX:
        raise PreconditionFailed("If-Match does not match the current ETag.")
    return int(value)


IfMatch = Annotated[int, Depends(_if_match)]


def check_version(expected: int, current: int) -> None:
    if expected != current:
        raise PreconditionFailed(
            "The resource was changed since you read it; re-read it and retry.",
            extra={"current_etag": etag(current)},
        )

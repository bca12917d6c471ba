"""The event feed: ``GET /api/v1/events?after=CURSOR``, oldest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.events import service
from app.events.dependencies import EventReader
from app.events.schemas import EventPage
from app.platform.db import SessionDep
from app.platform.pagination import DEFAULT_LIMIT, Limit
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["events"])

After = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Opaque cursor from `next_cursor`; omit to start from the first event.",
    ),
]


@router.get("/events", response_model=EventPage)
async def list_events(
    session: SessionDep,
    principal: EventReader,
    after: After = None,
    limit: Limit = DEFAULT_LIMIT,
) -> EventPage:
    """Poll what changed on the objects you may see now, oldest first.

    An event holds ids, a type, a time and the actor's organisation, never
    personal data: fetch the object through its own route. Keep the returned
    `next_cursor` and pass it as `after` next time; it is set also when the page
    is empty. While `has_more` is true, ask again at once.
    """
    return await service.feed(session, principal, after, limit)

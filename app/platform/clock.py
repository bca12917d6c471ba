"""The application clock: the one place that says what "now" and "today" are.

Deadlines are only testable when time can be set. Marak windows are calendar
months counted from a date (the last referral, the first day of the escalation
window) and the repeat flag lapses by itself 12 months after the referral; a
service referral falls overdue after its response target and expires later
(app/referrals). Every such service, gate and the /me/tasks route ask this
clock, and tests :meth:`Clock.freeze` it. It is the one time source: the
database's ``utcnow()`` (column defaults, app/platform/db.py) reads this clock
too, so a frozen clock gives the same "now" everywhere. Dates are Finnish calendar dates: a
referral made at 01:30 in Helsinki happened "today", even though it is still
yesterday in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TIMEZONE = ZoneInfo("Europe/Helsinki")


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    def today(self) -> date:
        return local_date(self.now())

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("freeze the clock at an aware datetime")
        self._frozen = at.astimezone(UTC)

    def unfreeze(self) -> None:
        self._frozen = None


def local_date(moment: datetime) -> date:
    """The Finnish calendar date of an instant."""
    return moment.astimezone(LOCAL_TIMEZONE).date()


def review_due(day: date) -> datetime:
    """The instant a review dated ``day`` falls due: midnight UTC of that date.

    That is 02:00 or 03:00 in Finland, already the same calendar day, and it
    reads as the date it stands for in every API response.
    """
    return datetime.combine(day, time.min, UTC)


#: The process-wide clock. Routes take it through :func:`get_clock`; gates,
#: which the cases domain calls without a request, read it directly.
clock = Clock()


def get_clock() -> Clock:
    return clock

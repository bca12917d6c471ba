"""The referral state machine, aligned with FHIR ``Task.status`` (R4).

    draft -> requested -> received -> accepted | rejected
    accepted -> in_progress -> completed | failed
    any open state -> cancelled (the referrer, with a reason)
    received | accepted | in_progress <-> on_hold (the provider; back to where it was)
    requested | received -> failed with reason ``expired`` (the system, app/referrals/followup.py)

Each move belongs to one side: the referrer (an active member of the case) or
the provider (the receiving organisation's service provider users, or its
system). Pure data and functions: no database here.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Side(StrEnum):
    REFERRER = "referrer"
    PROVIDER = "provider"
    SYSTEM = "system"


class ReferralUrgency(StrEnum):
    """FHIR request priority."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class ReasonCode(StrEnum):
    """Why a referral was rejected, failed or cancelled (with a text, always)."""

    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    OUTSIDE_AREA = "outside_area"
    WRONG_SERVICE = "wrong_service"
    CLIENT_DECLINED = "client_declined"
    NO_CONTACT = "no_contact"
    NO_LONGER_NEEDED = "no_longer_needed"
    RISK_CHANGED = "risk_changed"
    ENTERED_IN_ERROR = "entered_in_error"
    EXPIRED = "expired"  # set by the system only
    OTHER = "other"


class ReferralOutcome(StrEnum):
    """What the service reports when it completes a referral."""

    SERVICE_STARTED = "service_started"
    COMPLETED_PROGRAMME = "completed_programme"
    DECLINED_BY_CLIENT = "declined_by_client"
    NO_CONTACT = "no_contact"
    OTHER = "other"


S = Status
#: Referrals still waiting for someone: they block closing the case.
OPEN = frozenset({S.DRAFT, S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
CLOSED = frozenset(set(Status) - OPEN)
#: Sent but not yet answered: these can fall overdue, and expire.
UNANSWERED = frozenset({S.REQUESTED, S.RECEIVED})
HOLDABLE = frozenset({S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS})

#: (from, to) -> the side that makes this move. ON_HOLD -> back is resolved per row.
MOVES: dict[tuple[Status, Status], Side] = {
    (S.DRAFT, S.REQUESTED): Side.REFERRER,
    (S.REQUESTED, S.RECEIVED): Side.PROVIDER,
    (S.RECEIVED, S.ACCEPTED): Side.PROVIDER,
    (S.RECEIVED, S.REJECTED): Side.PROVIDER,
    (S.ACCEPTED, S.IN_PROGRESS): Side.PROVIDER,
    (S.ACCEPTED, S.FAILED): Side.PROVIDER,
    (S.IN_PROGRESS, S.COMPLETED): Side.PROVIDER,
    (S.IN_PROGRESS, S.FAILED): Side.PROVIDER,
    **{(state, S.ON_HOLD): Side.PROVIDER for state in HOLDABLE},
    **{(state, S.CANCELLED): Side.REFERRER for state in OPEN},
}

#: Moves that need a reason code and a text; completion needs an outcome instead.
NEEDS_REASON = frozenset({S.REJECTED, S.FAILED, S.CANCELLED})
#: Reason codes each move accepts (``expired`` is the system's own).
REASONS: dict[Status, frozenset[ReasonCode]] = {
    S.REJECTED: frozenset(
        {
            ReasonCode.NOT_ELIGIBLE,
            ReasonCode.NO_CAPACITY,
            ReasonCode.OUTSIDE_AREA,
            ReasonCode.WRONG_SERVICE,
            ReasonCode.OTHER,
        }
    ),
    S.FAILED: frozenset({ReasonCode.CLIENT_DECLINED, ReasonCode.NO_CONTACT, ReasonCode.OTHER}),
    S.CANCELLED: frozenset(
        {
            ReasonCode.NO_LONGER_NEEDED,
            ReasonCode.CLIENT_DECLINED,
            ReasonCode.WRONG_SERVICE,
            ReasonCode.RISK_CHANGED,
            ReasonCode.ENTERED_IN_ERROR,
            ReasonCode.OTHER,
        }
    ),
}


def side_of(current: Status, target: Status, held_from: Status | None) -> Side | None:
    """Who may move a referral from ``current`` to ``target`` (None: nobody)."""
    if current == S.ON_HOLD and held_from is not None and target == held_from:
        return Side.PROVIDER
    return MOVES.get((current, target))


def allowed(current: Status, held_from: Status | None, side: Side | None = None) -> list[Status]:
    """The moves open from ``current`` (for one side, or for anyone), in a stable order."""
    return [
        target
        for target in Status
        if (found := side_of(current, target, held_from)) is not None
        and (side is None or found == side)
    ]

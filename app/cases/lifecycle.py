"""Scheme lifecycles as data, and the gates that guard transitions.

Each scheme (docs/DOMAIN.md section 1) has one transition table. A transition may
carry *gates*: small named async functions that return ``None`` when their
precondition holds, or a sentence saying what is missing. Each app has one
:class:`Gates` registry; higher domains add gates to it from their
``install(app)`` (for example "no closing while referrals are open"), so this
module never imports them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.extensions import registry

if TYPE_CHECKING:
    from app.cases.models import Case


class Scheme(StrEnum):
    ANKKURI = "ankkuri"
    MARAK = "marak"
    HAH = "hah"


class CaseStatus(StrEnum):
    """Every state of every scheme; a case only ever uses its own scheme's."""

    # Ankkuri
    CONCERN_RECEIVED = "concern_received"
    SCREENING = "screening"
    NOT_SELECTED = "not_selected"
    ANCHOR_MEETING = "anchor_meeting"
    SERVICE_REFERRAL = "service_referral"
    FOLLOW_UP = "follow_up"
    # Marak
    IDENTIFIED = "identified"
    REFERRED = "referred"
    ON_AGENDA = "on_agenda"
    MEETING = "meeting"
    PLAN_ACTIVE = "plan_active"
    # Marak and HAH
    MONITORING = "monitoring"
    # HAH
    CONCERN_REPORTED = "concern_reported"
    ASSESSMENT = "assessment"
    MANAGEMENT = "management"
    # all
    CLOSED = "closed"


class ClosureOutcome(StrEnum):
    # Ankkuri
    REFERRED_ONWARD = "referred_onward"
    NO_FURTHER_NEED = "no_further_need"
    # Marak
    RISK_REDUCED = "risk_reduced"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    MOVED_OUT_OF_AREA = "moved_out_of_area"
    # HAH: the only two ways out (docs/DOMAIN.md: a documented decision).
    NO_LONGER_A_THREAT = "no_longer_a_threat"
    RISK_LOW = "risk_low"


S = CaseStatus
Out = ClosureOutcome


@dataclass(frozen=True)
class Lifecycle:
    scheme: Scheme
    initial: CaseStatus
    transitions: Mapping[CaseStatus, frozenset[CaseStatus]]
    closure_outcomes: frozenset[ClosureOutcome]

    def allowed(self, current: CaseStatus | str) -> list[CaseStatus]:
        return sorted(self.transitions.get(CaseStatus(current), frozenset()))

    def is_terminal(self, status: CaseStatus | str) -> bool:
        return not self.transitions.get(CaseStatus(status))

    @property
    def states(self) -> frozenset[CaseStatus]:
        return frozenset(self.transitions)


def _table(rows: dict[CaseStatus, set[CaseStatus]]) -> Mapping[CaseStatus, frozenset[CaseStatus]]:
    return {state: frozenset(targets) for state, targets in rows.items()}


LIFECYCLES: dict[Scheme, Lifecycle] = {
    Scheme.ANKKURI: Lifecycle(
        Scheme.ANKKURI,
        S.CONCERN_RECEIVED,
        _table(
            {
                S.CONCERN_RECEIVED: {S.SCREENING},
                S.SCREENING: {S.ANCHOR_MEETING, S.NOT_SELECTED},
                S.NOT_SELECTED: set(),
                S.ANCHOR_MEETING: {S.SERVICE_REFERRAL, S.FOLLOW_UP, S.CLOSED},
                S.SERVICE_REFERRAL: {S.FOLLOW_UP, S.CLOSED},
                S.FOLLOW_UP: {S.ANCHOR_MEETING, S.SERVICE_REFERRAL, S.CLOSED},
                S.CLOSED: set(),
            }
        ),
        frozenset({Out.REFERRED_ONWARD, Out.NO_FURTHER_NEED}),
    ),
    Scheme.MARAK: Lifecycle(
        Scheme.MARAK,
        S.IDENTIFIED,
        _table(
            {
                S.IDENTIFIED: {S.REFERRED, S.CLOSED},
                S.REFERRED: {S.ON_AGENDA, S.CLOSED},
                S.ON_AGENDA: {S.MEETING, S.CLOSED},
                # A meeting can run out of time: the case goes back on the agenda.
                S.MEETING: {S.PLAN_ACTIVE, S.ON_AGENDA, S.CLOSED},
                S.PLAN_ACTIVE: {S.MONITORING, S.CLOSED},
                S.MONITORING: {S.PLAN_ACTIVE, S.ON_AGENDA, S.CLOSED},
                S.CLOSED: set(),
            }
        ),
        frozenset({Out.RISK_REDUCED, Out.CONSENT_WITHDRAWN, Out.MOVED_OUT_OF_AREA}),
    ),
    Scheme.HAH: Lifecycle(
        Scheme.HAH,
        S.CONCERN_REPORTED,
        _table(
            {
                S.CONCERN_REPORTED: {S.SCREENING},
                S.SCREENING: {S.ASSESSMENT, S.CLOSED},
                S.ASSESSMENT: {S.MANAGEMENT, S.MONITORING, S.CLOSED},
                S.MANAGEMENT: {S.MONITORING, S.ASSESSMENT, S.CLOSED},
                S.MONITORING: {S.ASSESSMENT, S.MANAGEMENT, S.CLOSED},
                S.CLOSED: set(),
            }
        ),
        frozenset({Out.NO_LONGER_A_THREAT, Out.RISK_LOW}),
    ),
}


def lifecycle(scheme: Scheme | str) -> Lifecycle:
    return LIFECYCLES[Scheme(scheme)]


# --- gates ----------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentStatement:
    """What the professional documented on the transition about the victim's awareness.

    Documentation only: whether a Marak case may go to the group is decided by
    the victim's recorded consent (app/cases/sharing.py), not by this statement.
    """

    victim_aware: bool
    consent_given: bool
    no_consent_reason: str | None = None


@dataclass(frozen=True)
class TransitionIntent:
    """What the caller asked for, as the gates see it."""

    to: CaseStatus
    reason: str | None = None
    outcome: ClosureOutcome | None = None
    consent: ConsentStatement | None = None


@dataclass(frozen=True)
class GateContext:
    session: AsyncSession
    principal: Principal
    case: Case
    from_status: CaseStatus
    intent: TransitionIntent


GateFn = Callable[[GateContext], Awaitable[str | None]]


@dataclass(frozen=True)
class Gate:
    name: str
    fn: GateFn = field(compare=False)


class Gates:
    """The app's lifecycle gates (one per app: app/platform/extensions.py)."""

    def __init__(self) -> None:
        self._by_target: dict[tuple[Scheme | None, CaseStatus], list[Gate]] = {}

    def register(
        self, scheme: Scheme | None, to_state: CaseStatus, fn: GateFn, *, name: str | None = None
    ) -> Gate:
        """Attach a gate to every transition into ``to_state`` (of one scheme, or all if None)."""
        gate = Gate(name or fn.__name__, fn)
        bucket = self._by_target.setdefault((scheme, to_state), [])
        if any(g.name == gate.name for g in bucket):
            raise RuntimeError(f"gate {gate.name} registered twice for {scheme}:{to_state}")
        bucket.append(gate)
        return gate

    def unregister(self, scheme: Scheme | None, to_state: CaseStatus, name: str) -> None:
        bucket = self._by_target.get((scheme, to_state), [])
        self._by_target[(scheme, to_state)] = [g for g in bucket if g.name != name]

    def for_transition(self, scheme: Scheme, to_state: CaseStatus) -> list[Gate]:
        """The gates of every scheme first, then the scheme's own, in registration order."""
        return [
            *self._by_target.get((None, to_state), []),
            *self._by_target.get((scheme, to_state), []),
        ]

    async def evaluate(self, ctx: GateContext) -> tuple[list[str], list[dict[str, str]]]:
        """Run every gate; return the names that passed and the failures."""
        passed: list[str] = []
        failed: list[dict[str, str]] = []
        for gate in self.for_transition(Scheme(ctx.case.scheme), ctx.intent.to):
            problem = await gate.fn(ctx)
            if problem is None:
                passed.append(gate.name)
            else:
                failed.append({"gate": gate.name, "detail": problem})
        return passed, failed


#: The request's app's gates, for a route that moves a case.
GatesDep = Annotated[Gates, Depends(registry(Gates))]


def _documented(text: str | None, minimum: int = 10) -> bool:
    return text is not None and len(text.strip()) >= minimum


async def closure_outcome_recorded(ctx: GateContext) -> str | None:
    """A case closes only with an outcome that its scheme knows."""
    allowed = lifecycle(ctx.case.scheme).closure_outcomes
    if ctx.intent.outcome is None:
        return f"Closing needs an outcome: one of {sorted(allowed)}."
    if ctx.intent.outcome not in allowed:
        return f"This scheme closes with one of {sorted(allowed)}."
    return None


async def hah_no_longer_a_threat_decision(ctx: GateContext) -> str | None:
    """HAH closes only on a documented decision that the person is no longer a
    threat, or that the risk is low; the reason is that documentation."""
    if ctx.intent.outcome not in {ClosureOutcome.NO_LONGER_A_THREAT, ClosureOutcome.RISK_LOW}:
        return "HAH closes only with the decision 'no_longer_a_threat' or 'risk_low'."
    if not _documented(ctx.intent.reason):
        return "Document the decision in 'reason' (at least 10 characters)."
    return None


async def not_selected_reason_recorded(ctx: GateContext) -> str | None:
    """Screening that does not select a concern must say why."""
    if not _documented(ctx.intent.reason, minimum=5):
        return "Record why the concern was not selected in 'reason'."
    return None


#: The gates of the lifecycle itself (registered by app/cases/install.py).
GATES: tuple[tuple[Scheme | None, CaseStatus, GateFn], ...] = (
    (None, S.CLOSED, closure_outcome_recorded),
    (Scheme.HAH, S.CLOSED, hah_no_longer_a_threat_decision),
    (Scheme.ANKKURI, S.NOT_SELECTED, not_selected_reason_recorded),
)

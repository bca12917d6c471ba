"""Errors of the risk domain.

HTTP-facing errors are DomainErrors and render as problem+json. Definition
errors are start-up failures: they stop the service, they never reach a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.platform.problems import NotFound, Unprocessable


class InstrumentNotFound(NotFound):
    type = "instrument-not-found"
    title = "Instrument not found"


class InvalidAnswers(Unprocessable):
    """Answers that do not fit the pinned instrument version; ``errors`` lists each fault."""

    type = "invalid-answers"
    title = "The answers do not match the instrument"

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        self.errors = list(errors)
        super().__init__(
            "The answers do not match the instrument version; see 'errors'.",
            extra={"errors": self.errors},
        )


class JudgementDowngrade(Unprocessable):
    type = "judgement-downgrade"
    title = "Professional judgement cannot lower a visible high risk"


class InstrumentDefinitionError(Exception):
    """A shipped or stored definition is invalid; the service must not start with it."""


class DuplicateInstrument(InstrumentDefinitionError):
    """Two definitions claim the same ``code@version``."""


class ImmutableVersionChanged(InstrumentDefinitionError):
    """A published version's content differs from what was published."""

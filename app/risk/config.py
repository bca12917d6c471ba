"""Area configuration of the risk rules, taken from :class:`app.platform.config.Settings`.

The rules themselves are pure functions (:mod:`app.risk.scoring`) that take a
policy object. :func:`configure` is called once by the app factory; gates,
which run inside the cases domain without a request, read :func:`current`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.platform.config import Settings
from app.risk.schemas import RiskLevel
from app.risk.scoring import HahPolicy, MarakPolicy


@dataclass(frozen=True)
class RiskConfig:
    marak: MarakPolicy = field(default_factory=MarakPolicy)
    hah: HahPolicy = field(default_factory=HahPolicy)


def from_settings(settings: Settings) -> RiskConfig:
    return RiskConfig(
        marak=MarakPolicy(escalation_incidents=settings.marak_escalation_incidents),
        hah=HahPolicy(
            review_days={
                RiskLevel.HIGH: settings.hah_review_days_high,
                RiskLevel.MODERATE: settings.hah_review_days_moderate,
                RiskLevel.LOW: settings.hah_review_days_low,
            }
        ),
    )


_current = RiskConfig()


def configure(config: RiskConfig) -> None:
    global _current
    _current = config


def current() -> RiskConfig:
    return _current

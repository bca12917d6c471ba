"""Retention classes: how long each kind of record is kept, by owning organisation.

A class is (record type, owning organisation kind) -> days, with the legal
source where one is known and whether the figure is confirmed. The defaults
below are documented in docs/DOMAIN.md section 6 and the README ("Retention").
**None of the figures is confirmed for this service**: each names the law
where the period is decided, and a deployment's controller (with its data
protection officer) confirms or overrides them in a JSON file named by
``CASECOORD_RETENTION_CLASSES``::

    {"case": {"police": 1825, "social_services": 730},
     "concern.dismissed": {"*": 180}, "audit.period": {"*": 4383}}

A record type's ``"*"`` applies to every organisation kind it does not name.
Unknown record types or kinds, and days outside 0..36500, are refused at start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

ANY = "*"


class Record(StrEnum):
    #: A closed case and everything in it, counted from its closing.
    CASE = "case"
    #: A concern the team dismissed, counted from the screening decision.
    CONCERN_DISMISSED = "concern.dismissed"
    #: A person no case, concern or other record refers to any more, from when
    #: the person was recorded (a grace period, not a retention period).
    PERSON_UNREFERENCED = "person.unreferenced"
    #: An outbox event (ids only), from when it occurred.
    EVENT = "event"
    #: A stored Idempotency-Key, from when it expired.
    IDEMPOTENCY = "idempotency"
    #: A whole month of the access log, from the end of that month.
    AUDIT_PERIOD = "audit.period"


#: The organisation kinds of app/directory/schemas.py (OrganisationKind), as text:
#: the retention domain reads them, it does not import the directory's schemas.
KINDS = (
    "police",
    "social_services",
    "health_services",
    "youth_services",
    "education",
    "ngo",
    "other",
)


@dataclass(frozen=True)
class RetentionClass:
    record: Record
    kind: str
    days: int
    source: str
    confirmed: bool = False

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)


_POLICE_ACT = (
    "Act on the Processing of Personal Data by the Police 616/2019 (erasure of data "
    "is laid down there, by register and purpose); not confirmed"
)
_CLIENT_DATA_ACT = (
    "Client-data act 703/2023 and its annex on retention periods of social and "
    "health care client documents; this service keeps coordination copies, not the "
    "primary client record, so a shorter period may apply; not confirmed"
)
_GDPR = "GDPR art. 5(1)(e) storage limitation (no statutory period); not confirmed"

DEFAULTS: tuple[RetentionClass, ...] = (
    RetentionClass(Record.CASE, "police", 5 * 365, _POLICE_ACT),
    RetentionClass(Record.CASE, "social_services", 12 * 365, _CLIENT_DATA_ACT),
    RetentionClass(Record.CASE, "health_services", 12 * 365, _CLIENT_DATA_ACT),
    RetentionClass(Record.CASE, "youth_services", 5 * 365, _GDPR),
    RetentionClass(Record.CASE, "education", 5 * 365, _GDPR),
    RetentionClass(Record.CASE, "ngo", 5 * 365, _GDPR),
    RetentionClass(Record.CASE, ANY, 5 * 365, _GDPR),
    RetentionClass(Record.CONCERN_DISMISSED, "police", 365, _POLICE_ACT),
    RetentionClass(Record.CONCERN_DISMISSED, ANY, 365, _GDPR),
    RetentionClass(Record.PERSON_UNREFERENCED, ANY, 30, _GDPR),
    RetentionClass(
        Record.EVENT, ANY, 90, "operational data with ids only; a setting of this service"
    ),
    RetentionClass(
        Record.IDEMPOTENCY, ANY, 0, "operational data; removed once expired (24 h)", True
    ),
    RetentionClass(
        Record.AUDIT_PERIOD,
        ANY,
        12 * 365 + 3,
        "Client-data act 703/2023 on access logs (the person's right to the access "
        "report); 12 years is our reading; not confirmed",
    ),
)


class RetentionConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    """The classes in force: the defaults, with a deployment's overrides applied."""

    classes: tuple[RetentionClass, ...] = DEFAULTS

    def find(self, record: Record, kind: str | None = None) -> RetentionClass:
        fallback = None
        for cls in self.classes:
            if cls.record != record:
                continue
            if cls.kind == kind:
                return cls
            if cls.kind == ANY:
                fallback = cls
        if fallback is None:
            raise RetentionConfigError(f"no retention class for {record}")
        return fallback

    def period(self, record: Record, kind: str | None = None) -> timedelta:
        return self.find(record, kind).period

    def with_overrides(self, overrides: dict[str, Any]) -> Schedule:
        classes = list(self.classes)
        for record_name, by_kind in overrides.items():
            try:
                record = Record(record_name)
            except ValueError as exc:
                raise RetentionConfigError(f"unknown record type {record_name!r}") from exc
            if not isinstance(by_kind, dict):
                raise RetentionConfigError(f"{record_name}: expected {{kind: days}}")
            for kind, days in by_kind.items():
                if kind != ANY and kind not in KINDS:
                    raise RetentionConfigError(f"{record_name}: unknown organisation kind {kind!r}")
                if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 36500:
                    raise RetentionConfigError(f"{record_name}.{kind}: days must be 0..36500")
                source = "set by this deployment (CASECOORD_RETENTION_CLASSES)"
                new = RetentionClass(record, kind, days, source, confirmed=True)
                at = next(
                    (i for i, c in enumerate(classes) if c.record == record and c.kind == kind),
                    None,
                )
                if at is None:
                    classes.append(new)
                else:
                    classes[at] = replace(new)
        return Schedule(tuple(classes))


def load_schedule(path: Path | None) -> Schedule:
    """The defaults, overridden by the JSON file at ``path`` if one is given."""
    if path is None:
        return Schedule()
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RetentionConfigError(f"{path}: {exc}") from exc
    if not isinstance(overrides, dict):
        raise RetentionConfigError(f"{path}: expected an object of record types")
    return Schedule().with_overrides(overrides)

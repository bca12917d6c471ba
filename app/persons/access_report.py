"""The access report: who processed a person's data, to whom it was disclosed
and on what basis (docs/DOMAIN.md section 4, "Access log"), normally two years back.

It is built from the audit log alone: every read and write of a person is
audited with the person as the target, and the router adds the targets other
domains use for the same person (their case participations, concerns about
them). Whether to hand the report to the person is a human decision, because
answering can endanger someone; the API gives it only to auditors.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.audit.pending import write_pending
from app.auth.policy import Action
from app.auth.principal import Principal
from app.directory.models import Organisation
from app.persons.models import Consent, Person
from app.platform.db import utcnow
from app.platform.problems import NotFound, denial, field_error

DEFAULT_WINDOW = timedelta(days=730)
MAX_ENTRIES = 10_000


class AccessEntry(BaseModel):
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_organisation: str | None
    actor_roles: list[str]
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    purpose: str | None
    emergency_grant_id: uuid.UUID | None


class BasisSummary(BaseModel):
    consent_id: uuid.UUID
    basis: str
    scope: str
    service_name: str | None
    obtained_at: datetime
    withdrawn_at: datetime | None


class Disclosure(BaseModel):
    """Another organisation processed the data: to whom it was disclosed, and on
    what bases (those on record while it happened)."""

    organisation: str
    first_at: datetime
    last_at: datetime
    accesses: int
    bases: list[BasisSummary]


class AccessReport(BaseModel):
    person_id: uuid.UUID
    owner_organisation: str
    since: datetime
    until: datetime
    entries: list[AccessEntry]
    truncated: bool = False
    disclosures: list[Disclosure]


async def access_report(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    related: Iterable[tuple[str, uuid.UUID]],
    since: datetime | None,
    until: datetime | None,
) -> AccessReport:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(
            "No such person.",
            denied=denial(Action.PERSON_ACCESS_REPORT, principal, "person", person_id, "not found"),
        )
    until = until or utcnow()
    since = since or until - DEFAULT_WINDOW
    if since >= until:
        raise field_error(
            "since",
            "since must be before until.",
            "invalid",
            location="query",
        )
    targets: dict[str, set[str]] = defaultdict(set)
    targets["person"].add(str(person_id))
    for target_type, target_id in related:
        targets[target_type].add(str(target_id))
    await write_pending(session)  # this transaction's own rows too, as autoflush did
    rows = (
        await session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    *(
                        and_(AuditEvent.target_type == kind, AuditEvent.target_id.in_(ids))
                        for kind, ids in targets.items()
                    )
                ),
                AuditEvent.occurred_at >= since,
                AuditEvent.occurred_at < until,
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
            .limit(MAX_ENTRIES)
        )
    ).all()
    entries = [AccessEntry.model_validate(row, from_attributes=True) for row in rows]
    owner = await session.scalar(
        select(Organisation.code).where(Organisation.id == person.owner_organisation_id)
    )
    consents = (await session.scalars(select(Consent).where(Consent.person_id == person_id))).all()
    report = AccessReport(
        person_id=person_id,
        owner_organisation=owner or "",
        since=since,
        until=until,
        entries=entries,
        truncated=len(entries) >= MAX_ENTRIES,
        disclosures=_disclosures(entries, owner, consents),
    )
    audit.record(
        session,
        principal,
        Action.PERSON_ACCESS_REPORT,
        "person",
        person_id,
        purpose="data protection",
    )
    return report


def _disclosures(
    entries: list[AccessEntry], owner: str | None, consents: Iterable[Consent]
) -> list[Disclosure]:
    """Allowed accesses by other organisations, grouped, with the bases then on record."""
    grouped: dict[str, list[AccessEntry]] = defaultdict(list)
    for entry in entries:
        if entry.outcome == "allowed" and entry.actor_organisation not in (None, owner):
            grouped[str(entry.actor_organisation)].append(entry)
    out = []
    for organisation, items in sorted(grouped.items()):
        first, last = items[0].occurred_at, items[-1].occurred_at
        bases = [
            BasisSummary(
                consent_id=c.id,
                basis=c.basis,
                scope=c.scope,
                service_name=c.service_name,
                obtained_at=c.obtained_at,
                withdrawn_at=c.withdrawn_at,
            )
            for c in consents
            if c.obtained_at <= last and (c.withdrawn_at is None or c.withdrawn_at >= first)
        ]
        out.append(
            Disclosure(
                organisation=organisation,
                first_at=first,
                last_at=last,
                accesses=len(items),
                bases=bases,
            )
        )
    return out

"""The retention run: find what is past its period, then purge it piece by piece.

``run`` first lists everything that is due (the same queries for a dry run and a
real one, app/retention/due.py), so a dry run shows exactly the ids a real run
would take at that moment. A real run then purges:

1. each due case, in a transaction of its own (never half a case);
2. each due dismissed concern, one transaction each;
3. each person that nothing refers to any more, one transaction each;
4. expired Idempotency-Key rows and old outbox events, one transaction each;
5. each whole access-log period past its class, replaced by its stub
   (app/audit/periods.py), oldest first, one transaction each.

Each purge re-checks its target under a lock (a hold placed meanwhile wins) and
is audited by ids and counts, never content. A failure (a purge hook that
raises, a database error) rolls that one target back, is logged and counted,
and the run goes on. The run ends with one ``retention.run`` audit row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.audit.chain import period_of
from app.audit.periods import PeriodSummary, drop_period, removable_periods
from app.audit.service import record
from app.events.models import OutboxEvent
from app.platform.db import Base, Database, utcnow
from app.platform.idempotency import IdempotencyRecord
from app.platform.registry import Base as _complete_metadata  # noqa: F401 (every table)
from app.retention import purge
from app.retention.classes import Record, Schedule
from app.retention.due import (
    due_cases_query,
    due_concerns_query,
    due_persons_query,
    ids,
    person_refs,
)
from app.retention.hooks import PurgeHooks
from app.retention.plan import CasePlan, build_plan

log = logging.getLogger("casecoord.retention")

Progress = Callable[[str, int], None]


@dataclass
class RetentionReport:
    dry_run: bool
    cases: list[uuid.UUID] = field(default_factory=list)
    concerns: list[uuid.UUID] = field(default_factory=list)
    persons: list[uuid.UUID] = field(default_factory=list)
    idempotency_rows: int = 0
    events: int = 0
    audit_periods: list[str] = field(default_factory=list)
    #: table -> rows purged (or that would be) across all cases
    case_rows: dict[str, int] = field(default_factory=dict)
    #: targets skipped because a re-check found them held, gone or no longer due
    skipped: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.cases) + len(self.concerns) + len(self.persons)

    def summary(self) -> str:
        return (
            f"cases={len(self.cases)} concerns={len(self.concerns)} persons={len(self.persons)} "
            f"idempotency={self.idempotency_rows} events={self.events} "
            f"audit_periods={len(self.audit_periods)} skipped={self.skipped} "
            f"failed={len(self.failed)}"
        )


@dataclass(frozen=True)
class Due:
    cases: list[uuid.UUID]
    concerns: list[uuid.UUID]
    persons: list[uuid.UUID]
    idempotency_rows: int
    events: int
    audit_periods: list[PeriodSummary]

    def steps(self) -> int:
        return (
            len(self.cases) + len(self.concerns) + len(self.persons) + 2 + len(self.audit_periods)
        )


def audit_cutoff(schedule: Schedule, now: datetime) -> str:
    """Periods before this month (YYYY-MM) ended at least the class period ago."""
    return period_of(now - schedule.period(Record.AUDIT_PERIOD))


async def find_due(db: Database, plan: CasePlan, schedule: Schedule, now: datetime) -> Due:
    refs = person_refs(plan)
    cases_q = due_cases_query(schedule, now)
    concerns_q = due_concerns_query(schedule, now)
    async with db.sessionmaker() as session:
        return Due(
            cases=await ids(session, cases_q),
            concerns=await ids(session, concerns_q),
            persons=await ids(session, due_persons_query(schedule, refs, now, cases_q, concerns_q)),
            idempotency_rows=await purge.count_where(
                session, IdempotencyRecord, purge.expired_idempotency(schedule, now)
            ),
            events=await purge.count_where(session, OutboxEvent, purge.old_events(schedule, now)),
            audit_periods=await removable_periods(session, audit_cutoff(schedule, now)),
        )


async def run(
    db: Database,
    schedule: Schedule,
    hooks: PurgeHooks,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    plan: CasePlan | None = None,
    progress: Progress | None = None,
    on_due: Callable[[Due], None] | None = None,
) -> RetentionReport:
    now = now or utcnow()
    plan = plan or build_plan(Base.metadata)
    due = await find_due(db, plan, schedule, now)
    if on_due is not None:
        on_due(due)
    report = RetentionReport(dry_run=dry_run)
    if dry_run:
        await _dry(db, plan, due, report, progress)
    else:
        await _purge_all(db, plan, schedule, hooks, due, now, report, progress)
    async with db.sessionmaker.begin() as session:
        action = "retention.dry_run" if dry_run else "retention.run"
        record(session, None, action, "retention", None, purpose=report.summary()[:200])
    return report


def _tick(progress: Progress | None, what: str) -> None:
    if progress is not None:
        progress(what, 1)


async def _dry(
    db: Database, plan: CasePlan, due: Due, report: RetentionReport, progress: Progress | None
) -> None:
    async with db.sessionmaker() as session:
        for case_id in due.cases:
            for name, keys in (await purge.case_rows(session, plan, case_id)).items():
                if keys:
                    report.case_rows[name] = report.case_rows.get(name, 0) + len(keys)
            _tick(progress, "cases")
    report.cases = list(due.cases)
    report.concerns = list(due.concerns)
    report.persons = list(due.persons)
    report.idempotency_rows = due.idempotency_rows
    report.events = due.events
    report.audit_periods = [p.period for p in due.audit_periods]
    for _ in range(due.steps() - len(due.cases)):
        _tick(progress, "other")


async def _one(db: Database, report: RetentionReport, what: str, work: Any) -> Any:
    """Run one purge in its own transaction; a failure rolls back that target only."""
    try:
        async with db.sessionmaker.begin() as session:
            return await work(session)
    except Exception:
        log.exception("retention: purging %s failed", what)
        report.failed.append(what)
        return None


async def _purge_all(
    db: Database,
    plan: CasePlan,
    schedule: Schedule,
    hooks: PurgeHooks,
    due: Due,
    now: datetime,
    report: RetentionReport,
    progress: Progress | None,
) -> None:
    for case_id in due.cases:
        counts = await _one(
            db,
            report,
            f"case {case_id}",
            lambda s, c=case_id: purge.purge_case(s, plan, schedule, hooks, c, now),
        )
        if counts is None:
            report.skipped += f"case {case_id}" not in report.failed
        else:
            report.cases.append(case_id)
            for name, n in counts.items():
                report.case_rows[name] = report.case_rows.get(name, 0) + n
        _tick(progress, "cases")
    for concern_id in due.concerns:
        done = await _one(
            db,
            report,
            f"concern {concern_id}",
            lambda s, c=concern_id: purge.purge_concern(s, schedule, c, now),
        )
        if done:
            report.concerns.append(concern_id)
        else:
            report.skipped += f"concern {concern_id}" not in report.failed
        _tick(progress, "concerns")
    refs = person_refs(plan)
    for person_id in due.persons:
        counts = await _one(
            db,
            report,
            f"person {person_id}",
            lambda s, p=person_id: purge.purge_person(s, schedule, refs, p, now),
        )
        if counts is None:
            report.skipped += f"person {person_id}" not in report.failed
        else:
            report.persons.append(person_id)
        _tick(progress, "persons")
    keys = await _one(
        db, report, "idempotency", lambda s: purge.purge_idempotency(s, schedule, now)
    )
    report.idempotency_rows = keys or 0
    _tick(progress, "idempotency")
    events = await _one(db, report, "events", lambda s: purge.purge_events(s, schedule, now))
    report.events = events or 0
    _tick(progress, "events")
    for summary in due.audit_periods:
        stub = await _one(
            db,
            report,
            f"audit period {summary.period}",
            lambda s, p=summary: _drop_period(s, p),
        )
        if stub is not None:
            report.audit_periods.append(summary.period)
        else:
            break  # periods go oldest first, without gaps
        _tick(progress, "audit")


async def _drop_period(session: Any, summary: PeriodSummary) -> Any:
    stub = await drop_period(session, summary)
    record(
        session,
        None,
        "retention.audit_period.removed",
        "audit_period",
        summary.period,
        purpose=(
            f"rows={summary.rows} seq={summary.first_seq}-{summary.last_seq} head={stub.head_hash}"
        )[:200],
    )
    return stub

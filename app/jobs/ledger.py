"""The engine's rows: a lease per singleton job (``job_leases``) and the last runs
of every job (``job_runs``); app/jobs/engine.py says how they are used."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.models import JobLease, JobRun

leases = cast(Table, JobLease.__table__)
runs = cast(Table, JobRun.__table__)


async def ensure_rows(session: AsyncSession, names: set[str]) -> None:
    """A lease row for each job, due at once; a row another process made stays."""
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for name in sorted(names):
        stmt = maker(leases).values(name=name, runs=0, failures=0)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


async def prune_runs(session: AsyncSession, job: str, keep: int) -> None:
    """Keep the last ``keep`` runs of ``job``."""
    cutoff = (
        select(runs.c.id)
        .where(runs.c.job == job)
        .order_by(runs.c.id.desc())
        .offset(keep)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(delete(runs).where(runs.c.job == job, runs.c.id <= cutoff))

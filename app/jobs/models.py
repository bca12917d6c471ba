"""The job engine's two tables: a lease row per singleton job, and a short run history.

Neither holds personal data: job names, process ids of the form
``host:pid:random``, times, counts and an exception *class* name (never its
message, which may quote a value).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base

#: An integer that autoincrements on every backend (SQLite's rowid alias is INTEGER).
RunId = BigInteger().with_variant(Integer(), "sqlite")


class JobLease(Base):
    """One row per singleton job: when it is next due and who holds it now.

    A process owns the job for one run when its conditional UPDATE (due, and no
    live lease) changes this row; the lease expires by itself if that process
    dies, so another process runs the job after ``lease_until``.
    """

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: ``None``: due now (a job seen for the first time).
    next_due_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    #: The class of the last run's exception (``None`` when it succeeded).
    last_error_class: Mapped[str | None] = mapped_column(String(100))
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)


class JobRun(Base):
    """One run of a job (singleton runs always; queue runs when they handled or failed).

    Pruned to the last ``jobs_history_keep`` runs per job. A run whose process
    died keeps ``outcome="running"`` and no ``finished_at``.
    """

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_id", "job", "id"),)

    id: Mapped[int] = mapped_column(RunId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    handled: Mapped[int] = mapped_column(default=0)
    #: running | ok | failed | cancelled
    outcome: Mapped[str] = mapped_column(String(20))
    error_class: Mapped[str | None] = mapped_column(String(100))

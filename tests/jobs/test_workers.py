"""Real ``casecoord worker`` processes on the configured database (run on PostgreSQL too).

Slow by nature (each process imports the app): about 10-20 s in all.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.platform.config import Settings
from app.platform.db import Database
from tests.jobs.helpers import (
    CASECOORD,
    assert_no_overlap,
    read_history,
    read_lease,
    start,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_worker_once_runs_what_is_due_and_exits(
    jobs_db: Database, jobs_settings: Settings, tmp_path: Path
) -> None:
    env = worker_env(
        jobs_settings.effective_database_url,
        tmp_path,
        referral_sweep_seconds="300",
        audit_seal_seconds="5",
    )
    done = subprocess.run(  # noqa: S603 - our own console script
        [str(CASECOORD), "worker", "--once"], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert any(line.startswith("audit.seal: ran (0 handled), next due") for line in lines), lines
    assert any(line.startswith("referrals.expiry: ran (0 handled)") for line in lines), lines
    assert not any(line.startswith("audit.checkpoint") for line in lines)  # off: 0
    url = jobs_settings.effective_database_url
    ran = {(r.job, r.outcome) for r in read_history(url)}
    # Every due job ran once and succeeded (the webhook jobs are registered too).
    assert {("audit.seal", "ok"), ("referrals.expiry", "ok"), ("webhooks.fan_out", "ok")} <= ran
    assert {outcome for _job, outcome in ran} == {"ok"}
    assert not any(job.startswith("audit.checkpoint") for job, _ in ran)


def test_two_workers_run_a_singleton_once_per_period(
    jobs_db: Database, jobs_settings: Settings, tmp_path: Path
) -> None:
    url, period, window = jobs_settings.effective_database_url, 0.5, 4.0
    env = worker_env(url, tmp_path, audit_seal_seconds=str(period))
    args = [str(CASECOORD), "worker", "--only", "audit.seal"]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start(args, env, log) for log in logs]
    try:
        for log in logs:
            wait_for(log, "running: audit.seal")
        since = datetime.now(UTC)
        time.sleep(window)
        until = datetime.now(UTC)
        assert all(w.poll() is None for w in workers), "a worker exited"
    finally:
        codes = [_stop(w) for w in workers]
    assert codes == [0, 0]  # SIGTERM is a clean shutdown
    for log in logs:
        assert "stopped" in log.read_text()
    runs = [r for r in read_history(url, "audit.seal") if since <= r.started_at <= until]
    # One run per period across both processes, never one per process.
    assert 2 <= len(runs) <= window / period + 2, runs
    assert_no_overlap(runs)
    starts = [r.started_at for r in runs]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= period, gaps


def test_a_worker_killed_holding_a_lease_hands_the_job_on(
    jobs_db: Database, jobs_settings: Settings, tmp_path: Path
) -> None:
    url, lease_seconds = jobs_settings.effective_database_url, 3.0
    env = worker_env(url, tmp_path, jobs_lease_seconds=str(lease_seconds))
    env["PROBE_EVERY"] = "1"
    args = [sys.executable, "-m", "tests.jobs.probe_worker"]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start(args, env, log) for log in logs]
    try:
        for log in logs:
            wait_for(log, "running: probe.slow")
        deadline = time.monotonic() + 30
        while not (runs := read_history(url, "probe.slow")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(runs) == 1 and runs[0].outcome == "running", runs
        holder_pid = int(runs[0].owner.split(":")[1])
        victim = next(w for w in workers if w.pid == holder_pid)
        survivor = next(w for w in workers if w is not victim)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = datetime.now(UTC)
        deadline = time.monotonic() + 30
        while len(runs := read_history(url, "probe.slow")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(runs) == 2, runs
        dead, taken = runs
        assert dead.owner != taken.owner and int(taken.owner.split(":")[1]) == survivor.pid
        assert dead.outcome == "running" and dead.finished_at is None  # it died mid-run
        assert taken.started_at > killed_at
        assert (taken.started_at - killed_at).total_seconds() <= lease_seconds + 5
    finally:
        codes = [_stop(w) for w in workers if w.returncode is None]
    assert codes == [0]
    runs = read_history(url, "probe.slow")
    assert [r.outcome for r in runs] == ["running", "cancelled"]
    row = read_lease(url, "probe.slow")
    assert row is not None and row.lease_owner is None  # released by the clean shutdown

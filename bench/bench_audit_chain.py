"""Benchmark: what chaining the access log costs the hot path, and how fast it verifies.

    .venv/bin/python -m bench.bench_audit_chain --db postgres
    .venv/bin/python -m bench.bench_audit_chain --db sqlite --writers 1,8

In ONE run, on a scratch database built with the real migrations, C concurrent
writers each commit transactions that insert one audit row (what every request
does), in three designs measured alternately (``--rounds``, best round kept):

- ``plain``: the unchained insert (the row's chain columns NULL): the baseline;
- ``lock`` (design a): a transaction-scoped advisory lock (PostgreSQL; SQLite's
  BEGIN IMMEDIATE), read the chain head, hash, insert the chained row;
- ``sealer`` (design b, chosen): the plain insert while the in-process sealer
  chains committed rows every ``--seal-interval`` seconds in the background.

``--work-ms`` keeps each transaction open that long after the insert (the rest
of a request's work after its audit row is flushed): with design (a) the lock
is held for it. Then the table is grown to ``--verify-rows`` unsealed rows and
the sealer's and the verifier's rows/s are measured, with the estimate for 10
million rows. Results: stdout and ``bench/results/audit-chain-<db>-<ts>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, text

from app.audit.chain import SEAL_LOCK_KEY, chain_head, seal_all, table
from app.audit.verify import verify
from app.ops.migrate import upgrade
from app.platform.db import Database

console = Console()
RESULTS = Path(__file__).parent / "results"


def _row(i: int, moment: datetime | None = None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "occurred_at": moment or datetime.now(UTC),
        "actor_id": uuid.uuid4(),
        "actor_name": f"Bench user {i % 100}",
        "actor_organisation": "bench-org",
        "actor_roles": ["police"],
        "action": "case.read",
        "outcome": "allowed",
        "target_type": "case",
        "target_id": str(uuid.uuid4()),
        "request_id": uuid.uuid4().hex,
        "client_ip": "127.0.0.1",
        "reason": None,
        "purpose": None,
        "emergency_grant_id": None,
    }


async def _plain(db: Database, i: int, work: float) -> None:
    async with db.sessionmaker.begin() as session:
        await session.execute(insert(table).values(_row(i)))
        if work:
            await asyncio.sleep(work)


async def _locked(db: Database, i: int, work: float) -> None:
    async with db.sessionmaker.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
        head = await chain_head(session)
        row = _row(i)
        _, columns = head.next(row)
        await session.execute(insert(table).values(**row, **columns))
        if work:
            await asyncio.sleep(work)


async def _run(db: Database, fn: Any, writers: int, per_writer: int, work: float) -> dict[str, Any]:
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for i in range(per_writer):
            started = time.perf_counter()
            await fn(db, w * per_writer + i, work)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "tx_per_s": len(latencies) / elapsed,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


async def seal_forever(db: Database, interval: float) -> None:
    """The sealer as the job engine runs it (the ``audit.seal`` job), every ``interval``."""
    while True:
        await seal_all(db, wait=False)
        await asyncio.sleep(interval)


async def _mode(db: Database, mode: str, writers: int, n: int, work: float, interval: float) -> Any:
    await seal_all(db)  # start each measurement from a sealed log
    if mode == "lock":
        return await _run(db, _locked, writers, n, work)
    sealer = None
    if mode == "sealer":
        sealer = asyncio.create_task(seal_forever(db, interval))
    try:
        result = await _run(db, _plain, writers, n, work)
    finally:
        if sealer is not None:
            sealer.cancel()
            try:
                await sealer
            except asyncio.CancelledError:
                pass
    return result


async def _grow(db: Database, rows: int) -> None:
    base = datetime.now(UTC) - timedelta(days=1)
    batch = 5000
    async with db.sessionmaker.begin() as session:
        for start in range(0, rows, batch):
            chunk = [_row(i, base + timedelta(microseconds=i)) for i in range(start, start + batch)]
            await session.execute(insert(table), chunk[: rows - start])


async def _verify_speed(db: Database, rows: int) -> dict[str, Any]:
    await _grow(db, rows)
    started = time.perf_counter()
    sealed = await seal_all(db)
    seal_s = time.perf_counter() - started
    async with db.sessionmaker() as session:
        started, cpu = time.perf_counter(), time.process_time()
        result = await verify(session, batch=10_000)
        verify_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    assert result.ok, result.first_broken
    rate = result.rows / verify_s
    return {
        "rows": result.rows,
        # Rows per CPU second of the verifier process: less at the mercy of a loaded host.
        "verify_rows_per_cpu_s": result.rows / cpu_s,
        "verify_10m_cpu_minutes": 10_000_000 / (result.rows / cpu_s) / 60,
        "load_average": list(os.getloadavg()),
        "seal_rows_per_s": sealed / seal_s,
        "verify_rows_per_s": rate,
        "verify_10m_minutes": 10_000_000 / rate / 60,
        "seal_10m_minutes": 10_000_000 / (sealed / seal_s) / 60,
    }


async def _pg_scratch(url: str, drop: str | None = None) -> str:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            return drop
        name = f"bench_audit_{uuid.uuid4().hex[:8]}"
        await conn.execute(f'CREATE DATABASE "{name}"')
        return name
    finally:
        await conn.close()


async def _bench(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"concurrency": []}
    for writers in [int(w) for w in args.writers.split(",")]:
        for work_ms in [float(w) for w in args.work_ms.split(",")]:
            per = max(1, args.transactions // writers)
            best: dict[str, dict[str, Any]] = {}
            for _ in range(args.rounds):
                for mode in ("plain", "lock", "sealer"):
                    r = await _mode(db, mode, writers, per, work_ms / 1000, args.seal_interval)
                    if mode not in best or r["tx_per_s"] > best[mode]["tx_per_s"]:
                        best[mode] = r
            figures["concurrency"].append({"writers": writers, "work_ms": work_ms, **best})
            console.print(f"writers={writers} work={work_ms}ms: {best}")
    lag = await seal_all(db)
    figures["left_for_final_seal"] = lag
    figures["verify"] = await _verify_speed(db, args.verify_rows)
    return figures


def _report(db_name: str, figures: dict[str, Any]) -> None:
    table_ = Table(title=f"Audit chain, {db_name}: throughput ratio to the unchained insert")
    for col in ("writers", "work ms", "plain tx/s", "lock (a)", "sealer (b)", "p95 ms a / b"):
        table_.add_column(col, justify="right")
    for row in figures["concurrency"]:
        plain = row["plain"]["tx_per_s"]
        table_.add_row(
            str(row["writers"]),
            f"{row['work_ms']:g}",
            f"{plain:.0f}",
            f"{row['lock']['tx_per_s'] / plain:.2f}",
            f"{row['sealer']['tx_per_s'] / plain:.2f}",
            f"{row['plain']['p95_ms']:.1f} | {row['lock']['p95_ms']:.1f} | "
            f"{row['sealer']['p95_ms']:.1f}",
        )
    console.print(table_)
    console.print(f"load average at the end: {figures['verify']['load_average']}")
    v = figures["verify"]
    console.print(
        f"verify: {v['verify_rows_per_s']:.0f} rows/s over {v['rows']} rows "
        f"(10M rows: {v['verify_10m_minutes']:.1f} min; "
        f"{v['verify_rows_per_cpu_s']:.0f} rows per CPU second: "
        f"{v['verify_10m_cpu_minutes']:.1f} CPU min); "
        f"sealer: {v['seal_rows_per_s']:.0f} rows/s (10M: {v['seal_10m_minutes']:.1f} min)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--writers", default="1,16,50")
    parser.add_argument("--work-ms", default="0,2")
    parser.add_argument("--transactions", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seal-interval", type=float, default=0.5)
    parser.add_argument("--verify-rows", type=int, default=200_000)
    args = parser.parse_args()

    scratch = None
    if args.db == "postgres":
        scratch = asyncio.run(_pg_scratch(""))
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{scratch}"
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    try:
        upgrade(url)

        async def run() -> dict[str, Any]:
            db = Database.from_url(url)
            try:
                return await _bench(db, args)
            finally:
                await db.dispose()

        figures = asyncio.run(run())
    finally:
        if scratch:
            asyncio.run(_pg_scratch("", drop=scratch))
    _report(args.db, figures)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"audit-chain-{args.db}-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), **figures}, indent=2), encoding="utf-8")
    console.print(f"Results: {out}")


if __name__ == "__main__":
    main()

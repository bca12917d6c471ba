"""Benchmark: GET /api/v1/cases/{id} against a bare baseline, and list latency vs size.

    python -m bench.bench_cases --db sqlite
    python -m bench.bench_cases --db postgres --sizes 10000,100000,1000000

What it measures, in ONE run on this machine (ratios cancel most of the noise):
1. ``GET /api/v1/cases/{id}`` through the real app (JWT verification, directory
   lookup, the readable-cases query, the audit insert, commit and the response
   model) against a bare Starlette endpoint that reads the same row through the
   same engine configuration. Reported: requests/s and p50/p99 latency, and the
   app's figures as ratios to the baseline.
2. ``GET /api/v1/cases`` (my cases, first page of 50) as the table grows from
   the first to the last size, as ratios to the first size.

Both servers are real uvicorn processes on 127.0.0.1; the load generator is a
bounded closed loop (``bench/loadgen.py``). Results go to stdout and to
``bench/results/cases-<db>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, insert, select

from app.auth.devkeys import ensure_dev_key, mint_dev_token
from app.cases.models import Case, CaseMember
from app.directory.models import Organisation, Team, User
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.db import make_engine
from bench import loadgen

console = Console()
ROOT = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    name = f"casecoord_bench_{secrets.token_hex(3)}"
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-qc",
            f"CREATE DATABASE {name}",
        ],
        check=True,
    )
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


class Seeder:
    """Bulk-inserts cases straight through SQLAlchemy Core (not the API)."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.engine = make_engine(url)
        self.user_id = uuid.uuid4()
        self.other_id = uuid.uuid4()
        self.org_id = uuid.uuid4()
        self.team_id = uuid.uuid4()
        self.mine: list[uuid.UUID] = []
        self.count = 0

    async def base(self) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(Organisation),
                [
                    {
                        "id": self.org_id,
                        "code": "bench-police",
                        "name": "Bench police",
                        "kind": "police",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            await conn.execute(
                insert(User),
                [
                    {
                        "id": uid,
                        "issuer": self.settings.oidc_issuer,
                        "subject": sub,
                        "name": sub,
                        "organisation_id": self.org_id,
                        "roles": ["police"],
                        "disabled": False,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for uid, sub in ((self.user_id, "bench-user"), (self.other_id, "bench-other"))
                ],
            )
            await conn.execute(
                insert(Team),
                [
                    {
                        "id": self.team_id,
                        "name": "Bench Marak",
                        "kind": "marak",
                        "organisation_id": self.org_id,
                        "area": "Bench",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )

    async def grow_to(
        self, total: int, mine_every: int, progress: Progress, mine_cap: int | None = None
    ) -> None:
        task = progress.add_task(f"seeding to {total:,} cases", total=total - self.count)
        batch = 5000
        while self.count < total:
            n = min(batch, total - self.count)
            now = datetime.now(UTC)
            cases, members = [], []
            for i in range(n):
                cid = uuid.uuid4()
                index = self.count + i
                mine = index % mine_every == 0 and (mine_cap is None or len(self.mine) < mine_cap)
                owner = self.user_id if mine else self.other_id
                if owner == self.user_id:
                    self.mine.append(cid)
                cases.append(
                    {
                        "id": cid,
                        "scheme": "marak",
                        "team_id": self.team_id,
                        "owner_organisation_id": self.org_id,
                        "reference": f"BEN-{index:09d}",
                        "status": "identified",
                        "created_by": owner,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                members.append(
                    {
                        "id": uuid.uuid4(),
                        "case_id": cid,
                        "user_id": owner,
                        "case_role": "lead",
                        "invited": False,
                        "added_by": owner,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            async with self.engine.begin() as conn:
                await conn.execute(insert(Case), cases)
                await conn.execute(insert(CaseMember), members)
            self.count += n
            progress.advance(task, n)
        if self.engine.dialect.name == "postgresql":
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()

    async def total(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Case))).scalar_one())


class Server:
    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.port = _free_port()
        # The server's output goes to a file: an unread pipe would fill and stall it.
        self.log = Path(env["CASECOORD_DATA_DIR"]) / f"{kind}.log"
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.serve", kind, str(self.port)],
                env=env,
                cwd=ROOT.parent,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120  # a loaded machine starts slowly
        while time.time() < deadline:
            try:
                httpx.get(self.base + "/", timeout=1.0)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text(errors="replace")) from None
                time.sleep(0.2)
        raise RuntimeError(f"{kind} server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def _measure(label: str, url: str, headers: dict[str, str] | None, args: Any) -> Any:
    await loadgen.run(
        label,
        url,
        headers=headers,
        requests=max(50, args.requests // 10),
        concurrency=args.concurrency,
    )  # warm-up, discarded
    return await loadgen.run(
        label, url, headers=headers, requests=args.requests, concurrency=args.concurrency
    )


def _row(r: Any) -> dict[str, float]:
    return {
        "rps": round(r.rps, 1),
        "p50_ms": round(r.p50, 2),
        "p99_ms": round(r.p99, 2),
        "errors": r.errors,
        "requests": r.requests,
    }


async def prepare(db: str, prefix: str) -> tuple[str, Seeder, dict[str, str], dict[str, str]]:
    """A migrated scratch database with the base rows, a police token's headers and
    the environment a server process needs: (url, seeder, headers, env)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    url = _database_url(db, workdir)
    settings = Settings(data_dir=workdir, database_url=url)
    jwks = ensure_dev_key(settings)
    settings = settings.model_copy(update={"oidc_jwks": str(jwks)})
    thread = threading.Thread(target=upgrade, args=(url,))
    thread.start()
    thread.join()
    seeder = Seeder(url, settings)
    await seeder.base()
    token = mint_dev_token(
        settings,
        {"sub": "bench-user", "name": "bench-user", "org": "bench-police", "roles": ["police"]},
    )
    env = {
        **os.environ,
        "CASECOORD_DATA_DIR": str(workdir),
        "CASECOORD_DATABASE_URL": url,
        "CASECOORD_OIDC_JWKS": str(jwks),
        "CASECOORD_LOG_LEVEL": "WARNING",
        "CASECOORD_REFERRAL_SWEEP_SECONDS": "0",
    }
    return url, seeder, {"Authorization": f"Bearer {token}"}, env


def drop_database(url: str) -> None:
    """Drop a scratch PostgreSQL database made by :func:`prepare`."""
    name = url.rsplit("/", 1)[1]
    drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", drop]
    subprocess.run(command, check=False)


async def main_async(args: Any) -> dict[str, Any]:
    url, seeder, headers, env = await prepare(args.db, "casecoord-bench-")
    sizes = [int(s) for s in args.sizes.split(",")]
    report: dict[str, Any] = {
        "db": args.db,
        "concurrency": args.concurrency,
        "requests": args.requests,
        "sizes": {},
    }
    with Progress(console=console, transient=True) as progress:
        await seeder.grow_to(sizes[0], args.mine_every, progress)
    app, base = Server("app", env), Server("baseline", env)
    try:
        target = seeder.mine[0]
        rounds: dict[str, list[Any]] = {"baseline": [], "app": []}
        for _ in range(args.rounds):  # alternate so drift hits both alike
            rounds["baseline"].append(
                await _measure("baseline", f"{base.base}/cases/{target}", None, args)
            )
            rounds["app"].append(
                await _measure("app", f"{app.base}/api/v1/cases/{target}", headers, args)
            )
        best = {k: max(v, key=lambda r: r.rps) for k, v in rounds.items()}
        report["detail"] = {k: _row(v) for k, v in best.items()}
        report["detail"]["ratio_app_to_baseline"] = {
            "rps": round(best["app"].rps / best["baseline"].rps, 3),
            "p50": round(best["app"].p50 / best["baseline"].p50, 3),
            "p99": round(best["app"].p99 / best["baseline"].p99, 3),
        }
        for size in sizes:
            with Progress(console=console, transient=True) as progress:
                await seeder.grow_to(size, args.mine_every, progress)
            result = await _measure("list", f"{app.base}/api/v1/cases?limit=50", headers, args)
            report["sizes"][str(size)] = {
                **_row(result),
                "cases_in_db": await seeder.total(),
                "my_cases": len(seeder.mine),
            }
        first = report["sizes"][str(sizes[0])]
        for entry in report["sizes"].values():
            entry["p50_vs_first"] = round(entry["p50_ms"] / first["p50_ms"], 3)
            entry["p99_vs_first"] = round(entry["p99_ms"] / first["p99_ms"], 3)
    finally:
        app.stop()
        base.stop()
        await seeder.engine.dispose()
        if args.db == "postgres" and not args.keep:
            drop_database(url)
    return report


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"GET /api/v1/cases/{{id}} vs bare baseline ({report['db']})")
    for col in ("server", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(col)
    for name in ("baseline", "app"):
        r = report["detail"][name]
        table.add_row(name, str(r["rps"]), str(r["p50_ms"]), str(r["p99_ms"]), str(r["errors"]))
    ratio = report["detail"]["ratio_app_to_baseline"]
    table.add_row("app / baseline", f"{ratio['rps']}x", f"{ratio['p50']}x", f"{ratio['p99']}x", "")
    console.print(table)
    sizes = Table(title="GET /api/v1/cases (first page of 50) as the table grows")
    for col in ("cases", "my cases", "req/s", "p50 ms", "p99 ms", "p50 vs first", "p99 vs first"):
        sizes.add_column(col)
    for entry in report["sizes"].values():
        sizes.add_row(
            f"{entry['cases_in_db']:,}",
            f"{entry['my_cases']:,}",
            str(entry["rps"]),
            str(entry["p50_ms"]),
            str(entry["p99_ms"]),
            f"{entry['p50_vs_first']}x",
            f"{entry['p99_vs_first']}x",
        )
    console.print(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument(
        "--mine-every", type=int, default=1000, help="the bench user is lead of every Nth case"
    )
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    _print(report)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    path = out / f"cases-{args.db}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    console.print(f"Saved {path}")


if __name__ == "__main__":
    main()

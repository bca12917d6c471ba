"""Benchmark: the cost of an authorised, audited read, as ratios to a bare read.

    python -m bench.bench_hotpath --db sqlite
    python -m bench.bench_hotpath --db postgres --sizes 10000,100000,1000000
    python -m bench.bench_hotpath --db sqlite --quick          # under 3 minutes

In ONE run on this machine, alternating rounds so drift hits both sides alike:
1. ``GET /api/v1/cases/{id}`` through the real app (JWT, directory, readable
   query, audit row, commit) against ``bench/serve.py``'s bare read of the same
   row through the same engine: req/s, p50 and p99 as ratios to the baseline.
   Two framework floors run in the same rounds (bench/serve.py): FastAPI and the
   ORM reading the case, without and with the audit row, so the table shows how
   much of the gap is the stack and how much is the app's own work.
2. ``POST /api/v1/cases/{id}/notes`` against the same baseline read.
3. PostgreSQL only: the app with 2 worker processes against 1 worker.
4. ``GET /api/v1/cases`` (first page of 50) for a caller with a FIXED number of
   cases (``--mine``, default 50) as the table grows, as ratios to the first
   size, with the EXPLAIN of the readable-cases page query at each size.
5. Peak RSS (VmHWM) of every app process after its load.

The load comes from wrk when installed (``apt-get install wrk``), else from
bench/loadgen.py (GET only). Results: stdout, and bench/results/*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from app.auth.principal import Principal, Role
from app.cases.access import readable_cases
from app.cases.models import Case
from bench import wrk
from bench.bench_cases import ROOT, Seeder, Server, drop_database, prepare

console = Console()
#: bench/serve.py's framework floors: FastAPI + the ORM reading the same case,
#: without (floor-read) and with (floor-audited) the access-log row.
FLOORS = ("floor-read", "floor-audited")
NOTE = json.dumps({"text": "Bench note: met the family, situation calm.", "kind": "fact"})


def _rss_mb(server: Server) -> float:
    """Peak resident memory of the server process and its workers, the largest one."""
    pids = [server.proc.pid]
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    peak = 0.0
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return round(peak, 1)


def _cpu_seconds(server: Server) -> float:
    """User + system CPU time of the server process and its children so far."""
    pids = [server.proc.pid]
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    ticks = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists():
            fields = stat.read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU so far (/proc/stat's first line)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _row(f: wrk.Figures) -> dict[str, Any]:
    return {
        "rps": round(f.rps, 1),
        "p50_ms": round(f.p50, 2),
        "p99_ms": round(f.p99, 2),
        "requests": f.requests,
        "errors": f.errors,
        "tool": f.tool,
    }


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    return {
        "rps": round(a["rps"] / b["rps"], 3),
        "p50": round(a["p50_ms"] / b["p50_ms"], 3),
        "p99": round(a["p99_ms"] / b["p99_ms"], 3),
    }


def _best(rounds: list[wrk.Figures]) -> dict[str, Any]:
    best = _row(max(rounds, key=lambda f: f.rps))
    # CPU per request is steadier than req/s on a shared machine: the mean over rounds.
    cpu: list[float] = [f.cpu_ms for f in rounds if f.cpu_ms is not None]
    if cpu:
        best["cpu_ms_per_request"] = round(sum(cpu) / len(cpu), 3)
    busy: list[float] = [f.busy_cores for f in rounds if f.busy_cores is not None]
    if busy:
        best["machine_busy_cores"] = round(sum(busy) / len(busy), 2)
    return best


async def _explain(seeder: Seeder, db: str) -> str:
    principal = Principal(
        user_id=seeder.user_id,
        subject="bench-user",
        name="bench-user",
        organisation_id=seeder.org_id,
        organisation_code="bench-police",
        roles=frozenset({Role.POLICE}),
    )
    stmt = readable_cases(principal).order_by(Case.created_at.desc(), Case.id.desc()).limit(51)
    async with seeder.engine.connect() as conn:
        compiled = stmt.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})
        sql = str(compiled)
        prefix = "EXPLAIN ANALYZE " if db == "postgres" else "EXPLAIN QUERY PLAN "
        rows = (await conn.execute(text(prefix + sql))).all()
    return "\n".join(" | ".join(str(c) for c in row) for row in rows)


def _load(
    args: Any,
    label: str,
    url: str,
    headers: dict[str, str] | None,
    method: str = "GET",
    body: str | None = None,
    server: Server | None = None,
) -> wrk.Figures:
    # A short warm-up first (discarded), then the measured run.
    wrk.run(
        label,
        url,
        headers=headers,
        method=method,
        body=body,
        duration=2,
        connections=args.connections,
    )
    before = _cpu_seconds(server) if server is not None else 0.0
    machine = _machine_ticks()
    figures = wrk.run(
        label,
        url,
        headers=headers,
        method=method,
        body=body,
        duration=args.duration,
        connections=args.connections,
    )
    if server is not None and figures.requests:
        figures.cpu_ms = (_cpu_seconds(server) - before) * 1000 / figures.requests
    busy, total = (after - start for after, start in zip(_machine_ticks(), machine, strict=True))
    # Busy cores over the run: the server, the database and wrk together. When
    # one worker already keeps most of the machine busy, a second cannot double.
    figures.busy_cores = round(busy / total * (os.cpu_count() or 1), 2) if total else None
    return figures


async def main_async(args: Any) -> dict[str, Any]:
    url, seeder, auth, env = await prepare(args.db, "casecoord-hotpath-")
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()
    report: dict[str, Any] = {
        "db": args.db,
        "tool": "wrk" if wrk.available() else "loadgen",
        "duration_s": args.duration,
        "connections": args.connections,
        "rounds": args.rounds,
        "loadavg_at_start": [round(x, 2) for x in load],
        "sizes": {},
    }
    with Progress(console=console, transient=True) as progress:
        await seeder.grow_to(sizes[0], 1, progress, mine_cap=args.mine)
    servers: dict[str, Server] = {}
    try:
        # Started inside the try: one that fails to start stops the others.
        servers["baseline"] = Server("baseline", env)
        for floor in FLOORS:
            servers[floor] = Server(floor, env)
        servers["app"] = Server("app", env)
        if args.db == "postgres":
            servers["app2"] = Server("app-workers-2", env)
        target = seeder.mine[0]
        case_url = f"/api/v1/cases/{target}"
        rounds: dict[str, list[wrk.Figures]] = {
            k: [] for k in ("baseline", *FLOORS, "get", "note", "get2")
        }
        for _ in range(args.rounds):
            rounds["baseline"].append(
                _load(
                    args,
                    "baseline",
                    f"{servers['baseline'].base}/cases/{target}",
                    None,
                    server=servers["baseline"],
                )
            )
            for floor in FLOORS:
                floor_url = f"{servers[floor].base}/cases/{target}"
                rounds[floor].append(_load(args, floor, floor_url, None, server=servers[floor]))
            rounds["get"].append(
                _load(args, "get", servers["app"].base + case_url, auth, server=servers["app"])
            )
            if wrk.available():
                rounds["note"].append(
                    _load(
                        args,
                        "note",
                        f"{servers['app'].base}{case_url}/notes",
                        auth,
                        method="POST",
                        body=NOTE,
                        server=servers["app"],
                    )
                )
            if "app2" in servers:
                rounds["get2"].append(
                    _load(
                        args, "get2", servers["app2"].base + case_url, auth, server=servers["app2"]
                    )
                )
        for name in ("baseline", *FLOORS):
            if any(f.errors for f in rounds[name]):
                # A reference that answers errors is no reference: stop, with its log.
                log = servers[name].log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} answered errors under load:\n{log}")
        detail = {k: _best(v) for k, v in rounds.items() if v}
        detail["ratios"] = {
            **{
                f"{floor.replace('-', '_')}_vs_baseline": _ratio(detail[floor], detail["baseline"])
                for floor in FLOORS
            },
            "get_vs_baseline": _ratio(detail["get"], detail["baseline"]),
            "get_vs_floor_audited": _ratio(detail["get"], detail["floor-audited"]),
        }
        if "note" in detail:
            detail["ratios"]["note_vs_baseline"] = _ratio(detail["note"], detail["baseline"])
        if "get2" in detail:
            detail["ratios"]["two_workers_vs_one"] = _ratio(detail["get2"], detail["get"])
        detail["rss_mb"] = {k: _rss_mb(s) for k, s in servers.items() if k.startswith("app")}
        report["detail"] = detail
        for size in sizes:
            with Progress(console=console, transient=True) as progress:
                await seeder.grow_to(size, 1, progress, mine_cap=args.mine)
            figures = _load(args, "list", f"{servers['app'].base}/api/v1/cases?limit=50", auth)
            report["sizes"][str(size)] = {
                **_row(figures),
                "cases_in_db": await seeder.total(),
                "my_cases": len(seeder.mine),
                "explain": await _explain(seeder, args.db),
            }
        first = report["sizes"][str(sizes[0])]
        for entry in report["sizes"].values():
            entry["p50_vs_first"] = round(entry["p50_ms"] / first["p50_ms"], 3)
            entry["p99_vs_first"] = round(entry["p99_ms"] / first["p99_ms"], 3)
        report["rss_mb_after_lists"] = {k: _rss_mb(s) for k, s in servers.items()}
        report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        for server in servers.values():
            server.stop()
        await seeder.engine.dispose()
        if args.db == "postgres" and not args.keep:
            drop_database(url)
    return report


def _print(report: dict[str, Any]) -> None:
    d = report["detail"]
    table = Table(
        title=f"Hot path on {report['db']} ({report['tool']}, "
        f"{report['connections']} connections, best of {report['rounds']})"
    )
    for col in ("measurement", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "busy cores", "errors"):
        table.add_column(col)
    names = {
        "baseline": "bare read (baseline)",
        "floor-read": "floor: FastAPI + ORM read",
        "floor-audited": "floor: + audit row",
        "get": "GET case (1 worker)",
        "note": "POST note",
        "get2": "GET case (2 workers)",
    }
    for key, name in names.items():
        if key in d:
            r = d[key]
            table.add_row(
                name,
                str(r["rps"]),
                str(r["p50_ms"]),
                str(r["p99_ms"]),
                str(r.get("cpu_ms_per_request", "-")),
                f"{r.get('machine_busy_cores', '-')} / {os.cpu_count()}",
                str(r["errors"]),
            )
    console.print(table)
    ratios = Table(title="Ratios (same run)")
    for col in ("", "req/s", "p50", "p99"):
        ratios.add_column(col)
    for key, r in d["ratios"].items():
        ratios.add_row(key.replace("_", " "), f"{r['rps']}x", f"{r['p50']}x", f"{r['p99']}x")
    console.print(ratios)
    console.print(
        f"Peak RSS per app process (MB): {d['rss_mb']}; "
        f"load average {report['loadavg_at_start']} -> {report['loadavg_at_end']}"
    )
    sizes = Table(title="GET /api/v1/cases (page of 50), caller has a fixed number of cases")
    for col in ("cases", "mine", "req/s", "p50 ms", "p99 ms", "p50 vs first", "p99 vs first"):
        sizes.add_column(col)
    for entry in report["sizes"].values():
        sizes.add_row(
            f"{entry['cases_in_db']:,}",
            str(entry["my_cases"]),
            str(entry["rps"]),
            str(entry["p50_ms"]),
            str(entry["p99_ms"]),
            f"{entry['p50_vs_first']}x",
            f"{entry['p99_vs_first']}x",
        )
    console.print(sizes)
    for size, entry in report["sizes"].items():
        console.print(f"[bold]EXPLAIN at {int(size):,} cases[/bold]\n{entry['explain']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--sizes",
        default=None,
        help="default: 10000,100000 (sqlite), 10000,100000,1000000 (postgres)",
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (--quick: 2)")
    parser.add_argument("--mine", type=int, default=50, help="the caller's own cases")
    parser.add_argument("--quick", action="store_true", help="two short rounds, two small sizes")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 5, args.rounds or 2
        args.sizes = args.sizes or "10000,30000"
    args.rounds = args.rounds or 3
    args.sizes = args.sizes or ("10000,100000" if args.db == "sqlite" else "10000,100000,1000000")
    report = asyncio.run(main_async(args))
    _print(report)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    path = out / f"hotpath-{args.db}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    console.print(f"Saved {path}")


if __name__ == "__main__":
    main()

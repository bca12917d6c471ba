"""A/B of two checkouts of the app on the hot path, in ONE run: CPU per request.

    git archive <before-commit> | tar -x -C /tmp/before
    python -m bench.bench_hotpath_ab --db sqlite --before /tmp/before [--after .]

One seeded database (2,000 cases), one bare-read baseline process
(bench/serve.py) per checkout (an engine change speeds up the bare read too)
and one uvicorn app process per checkout; wrk (``-c16``) drives
``GET /api/v1/cases/{id}`` and ``POST .../notes`` on each, rounds alternating
before/after. Prints req/s, p50/p99 and the **server's CPU ms per request**
(utime + stime over the measured run, divided by its requests), which is the
steadier figure on a shared machine. Needs wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from bench import wrk
from bench.bench_cases import ROOT, _free_port, drop_database, prepare
from bench.bench_hotpath import NOTE, _cpu_seconds


class Checkout:
    """``bench.serve KIND PORT`` run from ``cwd`` (its own ``app`` package)."""

    def __init__(self, kind: str, env: dict[str, str], cwd: Path) -> None:
        self.port = _free_port()
        self.log = Path(env["CASECOORD_DATA_DIR"]) / f"{kind}-{self.port}.log"
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.serve", kind, str(self.port)],
                env={**env, "PYTHONPATH": str(cwd)},
                cwd=cwd,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                httpx.get(self.base + "/", timeout=1.0)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text(errors="replace")) from None
                time.sleep(0.2)
        raise RuntimeError(f"{kind} in {cwd} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _load(
    server: Checkout,
    url: str,
    headers: dict[str, str] | None,
    seconds: int,
    method: str = "GET",
    body: str | None = None,
) -> wrk.Figures:
    wrk.run("warm-up", url, headers=headers, method=method, body=body, duration=2, connections=16)
    before = _cpu_seconds(server)  # type: ignore[arg-type]
    figures = wrk.run(
        "run", url, headers=headers, method=method, body=body, duration=seconds, connections=16
    )
    figures.cpu_ms = (_cpu_seconds(server) - before) * 1000 / max(1, figures.requests)  # type: ignore[arg-type]
    return figures


async def main_async(args: Any) -> None:
    url, seeder, auth, env = await prepare(args.db, "casecoord-ab-")
    with Progress(transient=True) as progress:
        await seeder.grow_to(2000, 1, progress, mine_cap=50)
    target = seeder.mine[0]
    # Each side has its own baseline, run from its own checkout: an engine
    # change (make_engine) speeds up the bare read too, and each side's ratio
    # is to the bare read through ITS engine.
    servers: dict[str, Checkout] = {}
    results: dict[str, list[wrk.Figures]] = {}
    print("load average at start", os.getloadavg())
    try:
        for side in ("before", "after"):
            tree = Path(getattr(args, side))
            servers[f"{side} baseline"] = Checkout("baseline", env, tree)
            servers[side] = Checkout("app", env, tree)
        for n in range(args.rounds):
            order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
            for side in order:
                base = servers[f"{side} baseline"]
                results.setdefault(f"{side} baseline", []).append(
                    _load(base, f"{base.base}/cases/{target}", None, args.duration)
                )
            for kind, method, suffix in (("get", "GET", ""), ("note", "POST", "/notes")):
                for side in order:
                    s = servers[side]
                    results.setdefault(f"{side} {kind}", []).append(
                        _load(
                            s,
                            f"{s.base}/api/v1/cases/{target}{suffix}",
                            auth,
                            args.duration,
                            method,
                            NOTE if method == "POST" else None,
                        )
                    )
    finally:
        for server in servers.values():
            server.stop()
        await seeder.engine.dispose()
        if args.db == "postgres":
            drop_database(url)
    print("load average at end", os.getloadavg())
    for key, rounds in results.items():
        cells = "  ".join(
            f"{f.rps:7.1f} req/s p50 {f.p50:6.1f} p99 {f.p99:6.1f} "
            f"cpu {f.cpu_ms:.3f} ms err {f.errors}"
            for f in rounds
        )
        print(f"{key:16s} {cells}")
    for key, rounds in results.items():
        side = key.split()[0]
        base = results[f"{side} baseline"]
        best = max(rounds, key=lambda f: f.rps)
        best_base = max(base, key=lambda f: f.rps)
        cpu = sum(f.cpu_ms or 0.0 for f in rounds) / len(rounds)
        print(
            f"{key:16s} best req/s ratio to its baseline {best.rps / best_base.rps:.3f}, "
            f"p50 {best.p50 / best_base.p50:.2f}x, p99 {best.p99 / best_base.p99:.2f}x, "
            f"mean CPU {cpu:.3f} ms/request"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--before", required=True, help="a checkout of the 'before' code")
    parser.add_argument("--after", default=str(ROOT.parent), help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    args = parser.parse_args()
    if not wrk.available():
        raise SystemExit("wrk is required (apt-get install wrk)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

"""Benchmark: the outbox and webhooks, end to end, in ONE run on this machine.

    python -m bench.bench_outbox --db sqlite
    python -m bench.bench_outbox --db postgres --events 500

What it measures (ratios and figures from the same run; the machine is noisy):
1. **The outbox's cost on a write**: ``POST /api/v1/cases`` (which emits
   ``case.created``) with the outbox as shipped, against the same request with
   the events dropped before they are written (a bench-only listener that runs
   before the outbox's own at commit). Alternating rounds; reported as the
   ratio of the medians and p99s (with / without) and of the throughputs.
2. **Events through the outbox to a local receiver**: an organisation's webhook
   endpoint on 127.0.0.1 (a real uvicorn server), the real fan-out and sender
   jobs running in a loop as the embedded engine would, while cases are being
   created. Reported: events per second delivered, and p50/p99 from the write's
   commit (its response) to the receiver's arrival.

The app runs in-process (httpx's ASGI transport), so the figures are the
server's cost without a network hop; the receiver is real HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy import event, insert
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.devkeys import mint_dev_token
from app.directory.models import TeamMembership
from app.jobs.registry import JobContext, Jobs
from app.main import create_app
from app.platform.db import Database
from app.platform.extensions import registries_of
from bench.bench_cases import _free_port, drop_database, prepare

console = Console()


def _drop_events(session: Session) -> None:
    session.info.pop("casecoord.outbox_pending", None)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _writes(
    client: httpx.AsyncClient, headers: dict[str, str], team: str, n: int
) -> list[float]:
    took = []
    for _ in range(n):
        start = time.perf_counter()
        r = await client.post("/api/v1/cases", json={"team_id": team}, headers=headers)
        took.append(time.perf_counter() - start)
        assert r.status_code == 201, r.text
    return took


class Receiver:
    """A real HTTP receiver on 127.0.0.1 that notes when each case's event arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.port = _free_port()

        async def hook(request: Request) -> Response:
            body = json.loads(await request.body())
            self.arrived.setdefault(str(body["data"].get("target_id")), time.perf_counter())
            return Response(status_code=204)

        app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def main_async(args: Any) -> dict[str, Any]:
    url, seeder, headers, _env = await prepare(args.db, "casecoord-outbox-")
    async with seeder.engine.begin() as conn:  # the bench user opens cases in its team
        await conn.execute(
            insert(TeamMembership).values(
                id=uuid.uuid4(), team_id=seeder.team_id, user_id=seeder.user_id
            )
        )
    settings = seeder.settings.model_copy(
        update={"jobs": "off", "webhook_allow_insecure": True, "webhook_allow_private": True}
    )
    database = Database.from_url(url)
    app = create_app(settings, database=database)
    team = str(seeder.team_id)
    admin = mint_dev_token(
        settings,
        {"sub": "bench-admin", "name": "bench-admin", "org": "bench-police", "roles": ["admin"]},
    )
    report: dict[str, Any] = {"db": args.db, "load_before": os.getloadavg()}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            await _writes(client, headers, team, 20)  # warm-up
            with_outbox: list[float] = []
            without: list[float] = []
            for _round in range(args.rounds):
                with_outbox += await _writes(client, headers, team, args.writes)
                event.listen(Session, "before_commit", _drop_events, insert=True)
                try:
                    without += await _writes(client, headers, team, args.writes)
                finally:
                    event.remove(Session, "before_commit", _drop_events)
            report["write"] = {
                "with_p50_ms": statistics.median(with_outbox) * 1000,
                "without_p50_ms": statistics.median(without) * 1000,
                "p50_ratio": statistics.median(with_outbox) / statistics.median(without),
                "p99_ratio": _pct(with_outbox, 0.99) / _pct(without, 0.99),
                "throughput_ratio": statistics.mean(without) / statistics.mean(with_outbox),
            }
            with Receiver() as receiver:
                r = await client.post(
                    "/api/v1/webhooks",
                    json={
                        "url": f"http://127.0.0.1:{receiver.port}/hook",
                        "event_types": ["case.created"],
                    },
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert r.status_code == 201, r.text
                report["delivery"] = await _deliver(app, client, headers, team, receiver, args)
    finally:
        await database.dispose()
        if args.db == "postgres":
            drop_database(url)
    report["load_after"] = os.getloadavg()
    return report


async def _deliver(
    app: Any, client: httpx.AsyncClient, headers: dict[str, str], team: str, receiver: Receiver,
    args: Any,
) -> dict[str, float]:  # fmt: skip
    """Create cases while the fan-out and sender run as the embedded engine would."""
    registries = registries_of(app)
    jobs = registries.of(Jobs)
    ctx = JobContext(app.state.db, app.state.settings, registries)
    fan_out, deliver = jobs.get("webhooks.fan_out"), jobs.get("webhooks.deliver")
    committed: dict[str, float] = {}
    done = asyncio.Event()

    async def engine() -> None:
        while not done.is_set() or len(receiver.arrived) < len(committed):
            await fan_out.run(ctx)
            if not await deliver.run(ctx):
                await asyncio.sleep(0.02)

    loop = asyncio.create_task(engine())
    start = time.perf_counter()
    for _ in range(args.events):
        r = await client.post("/api/v1/cases", json={"team_id": team}, headers=headers)
        assert r.status_code == 201, r.text
        committed[r.json()["id"]] = time.perf_counter()
    done.set()
    await asyncio.wait_for(loop, timeout=args.events * 2 + 60)
    elapsed = max(receiver.arrived.values()) - start
    lags = [receiver.arrived[case] - at for case, at in committed.items()]
    return {
        "events": len(committed),
        "events_per_s": len(committed) / elapsed,
        "commit_to_delivery_p50_ms": statistics.median(lags) * 1000,
        "commit_to_delivery_p99_ms": _pct(lags, 0.99) * 1000,
    }


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"Outbox and webhooks ({report['db']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in {**report["write"], **report["delivery"]}.items():
        table.add_row(key, f"{value:.2f}")
    console.print(table)
    console.print(f"load average before {report['load_before']}, after {report['load_after']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--writes", type=int, default=100, help="writes per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    _print(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()

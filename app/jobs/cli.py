"""``casecoord worker``: run the app's background jobs outside the server."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from app.platform.config import get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.jobs.engine import Engine, RunReport

console = Console(stderr=True)


def worker(
    once: Annotated[
        bool, typer.Option(help="Run what is due now, print it and exit (for cron and tests).")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only this job (repeatable), e.g. audit.seal.")
    ] = None,
) -> None:
    """Run the background jobs (README, "Background jobs") until SIGTERM or Ctrl-C.

    Singleton jobs run once per period across all workers and servers; start as
    many workers as you like. Set CASECOORD_JOBS=external so that the servers
    run none themselves.
    """
    raise typer.Exit(run_worker(once=once, only=set(only) if only else None))


def run_worker(
    *,
    once: bool = False,
    only: set[str] | None = None,
    extend: Callable[[FastAPI], None] | None = None,
) -> int:
    """Build the app (for its registered jobs) and run its engine; the exit code."""
    from app.jobs.engine import Engine
    from app.main import create_app
    from app.platform.extensions import registries_of
    from app.platform.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    if extend is not None:
        extend(app)
    engine = Engine(app.state.db, settings, registries_of(app), only=only)
    unknown = (only or set()) - {job.name for job in engine.jobs}
    if unknown:
        console.print(f"[red]No such job:[/red] {', '.join(sorted(unknown))}")
        return 2
    if not engine.enabled():
        console.print("[yellow]Every job is switched off by its setting.[/yellow]")
    return asyncio.run(_once(engine) if once else _forever(engine))


async def _once(engine: Engine) -> int:
    try:
        reports: list[RunReport] = await engine.tick()
    finally:
        await engine.db.dispose()
    for report in reports:
        print(report.describe())
    return 1 if any(report.status == "failed" for report in reports) else 0


async def _forever(engine: Engine) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(engine.run_forever())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await engine.db.dispose()
    console.print(f"Worker {engine.owner} stopped.")
    return 0

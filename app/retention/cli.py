"""``casecoord retention``: run retention now, or see what it would purge."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console

from app.platform.config import Settings, get_settings

retention = typer.Typer(
    help="Retention and legal hold (see README, 'Retention').", no_args_is_help=True
)
console = Console(stderr=True)


@retention.command("run")
def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be purged; change nothing.")
    ] = False,
) -> None:
    """Purge (or with --dry-run list) what is past its retention period and not held."""
    from app.retention.classes import RetentionConfigError

    settings = get_settings()
    try:
        report = asyncio.run(_run(settings, dry_run))
    except RetentionConfigError as exc:
        console.print(f"[red]Retention classes:[/red] {exc}")
        raise typer.Exit(2) from exc
    verb = "would purge" if dry_run else "purged"
    print(f"cases {verb}: {len(report.cases)}")
    for case_id in report.cases:
        print(f"  case {case_id}")
    for name, n in sorted(report.case_rows.items()):
        print(f"  rows of {name}: {n}")
    print(f"concerns {verb}: {len(report.concerns)}")
    for concern_id in report.concerns:
        print(f"  concern {concern_id}")
    print(f"persons {verb}: {len(report.persons)}")
    for person_id in report.persons:
        print(f"  person {person_id}")
    print(f"idempotency rows {verb}: {report.idempotency_rows}")
    print(f"events {verb}: {report.events}")
    print(f"audit periods {verb}: {' '.join(report.audit_periods) or 'none'}")
    if report.skipped:
        print(f"skipped (held, gone or no longer due on re-check): {report.skipped}")
    for what in report.failed:
        print(f"FAILED: {what}")
    raise typer.Exit(1 if report.failed else 0)


async def _run(settings: Settings, dry_run: bool) -> Any:
    from app.main import create_app
    from app.ops.progress import progress_bar
    from app.platform.db import Database
    from app.platform.extensions import registries_of
    from app.retention.classes import load_schedule
    from app.retention.hooks import PurgeHooks
    from app.retention.service import Due, run

    schedule = load_schedule(settings.retention_classes)
    db = Database.from_url(settings.effective_database_url)
    # The hooks every domain registers (crypto-shredding) come from the app's installs.
    hooks = registries_of(create_app(settings, database=db)).of(PurgeHooks)
    try:
        with progress_bar(console, eta=False) as progress:
            task = progress.add_task("Finding what is due", total=None)

            def due(found: Due) -> None:
                label = "Listing" if dry_run else "Purging"
                progress.update(task, description=label, total=found.steps(), completed=0)

            return await run(
                db,
                schedule,
                hooks,
                dry_run=dry_run,
                on_due=due,
                progress=lambda _what, n: progress.advance(task, n),
            )
    finally:
        await db.dispose()

"""One progress bar for the CLI's long work (key rotation, audit verification, backfills)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TimeRemainingColumn,
)


def progress_bar(console: Console, *, eta: bool = True) -> Progress:
    """A bar with the task's description, done / total and (with ``eta``) the time left."""
    columns: list[str | ProgressColumn] = [
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console)

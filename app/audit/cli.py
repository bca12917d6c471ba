"""``casecoord audit``: seal, checkpoint and verify the access log's hash chain."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.platform.config import Settings, get_settings

audit = typer.Typer(
    help="The access log's hash chain (see README, 'Audit chain').", no_args_is_help=True
)
console = Console(stderr=True)
PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


def _checkpoint_dir(settings: Settings, given: Path | None) -> Path:
    return given or settings.audit_checkpoint_out


@audit.command("keygen")
def keygen(
    force: Annotated[bool, typer.Option(help="Replace an existing key.")] = False,
) -> None:
    """Create the Ed25519 key that signs checkpoints (outside the database)."""
    from app.audit.checkpoints import CheckpointError, generate_key

    settings = get_settings()
    path = settings.audit_checkpoint_key_path
    try:
        vkey = generate_key(path, settings.audit_checkpoint_origin, overwrite=force)
    except CheckpointError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"Private key: {path} (keep it off the database host)")
    print(vkey)


@audit.command("seal")
def seal_command() -> None:
    """Chain every committed, unsealed row now (the server also does this every few seconds)."""
    sealed = asyncio.run(_seal(get_settings()))
    console.print(f"[green]Sealed {sealed} row(s).[/green]")


async def _seal(settings: Settings) -> int:
    from app.audit.chain import seal_all
    from app.platform.db import Database

    db = Database.from_url(settings.effective_database_url)
    try:
        return await seal_all(db)
    finally:
        await db.dispose()


@audit.command("checkpoint")
def checkpoint_command(
    out: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Directory for the signed notes (default CASECOORD_AUDIT_CHECKPOINT_DIR, "
                "else <data_dir>/audit-checkpoints)."
            )
        ),
    ] = None,
) -> None:
    """Seal, then write a signed checkpoint (period, rows, head hash) for each period."""
    from app.audit.checkpoints import load_key

    settings = get_settings()
    key = load_key(settings.audit_checkpoint_key_path, settings.audit_checkpoint_origin)
    written = asyncio.run(_checkpoint(settings, _checkpoint_dir(settings, out), key))
    for path in written:
        print(path)
    console.print(f"[green]Wrote {len(written)} checkpoint(s).[/green] Copy them off this host.")


async def _checkpoint(settings: Settings, out: Path, key: object) -> list[Path]:
    from app.audit.checkpoints import seal_and_write
    from app.platform.db import Database

    db = Database.from_url(settings.effective_database_url)
    try:
        return await seal_and_write(db, settings.audit_checkpoint_origin, out, key)  # type: ignore[arg-type]
    finally:
        await db.dispose()


def _period(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(PERIOD, value):
        raise typer.BadParameter("a month, YYYY-MM")
    return value


@audit.command("verify")
def verify_command(
    since: Annotated[
        str | None, typer.Option(help="Verify from this period (YYYY-MM) on.", callback=_period)
    ] = None,
    checkpoints_dir: Annotated[
        Path | None,
        typer.Option("--checkpoints", help="Also check the chain against these signed notes."),
    ] = None,
    seal_first: Annotated[bool, typer.Option("--seal/--no-seal", help="Seal first.")] = True,
) -> None:
    """Walk the chain; exit 1 naming the first broken row, 0 if it verifies."""
    from app.audit.checkpoints import CheckpointError, public_path, read_all

    settings = get_settings()
    pins: dict[str, dict[int, str]] = {}
    if checkpoints_dir is not None:
        vkey_path = public_path(settings.audit_checkpoint_key_path)
        try:
            pins = read_all(checkpoints_dir, vkey_path.read_text(encoding="utf-8"))
        except (OSError, CheckpointError) as exc:
            console.print(f"[red]Checkpoints:[/red] {exc}")
            raise typer.Exit(2) from exc
    ok = asyncio.run(_verify(settings, since, pins, seal_first))
    raise typer.Exit(0 if ok else 1)


async def _verify(
    settings: Settings, since: str | None, pins: dict[str, dict[int, str]], seal_first: bool
) -> bool:
    from sqlalchemy import func, select

    from app.audit.chain import seal_all, table
    from app.audit.service import record
    from app.audit.verify import verify
    from app.ops.progress import progress_bar
    from app.platform.db import Database

    db = Database.from_url(settings.effective_database_url)
    try:
        if seal_first:
            await seal_all(db)
        async with db.sessionmaker() as session:
            count = select(func.count()).select_from(table).where(table.c.chain_seq.is_not(None))
            if since:
                count = count.where(table.c.chain_period >= since)
            total = await session.scalar(count) or 0
            with progress_bar(console) as progress:
                task = progress.add_task("Verifying", total=total)
                result = await verify(
                    session, since=since, expect=pins, progress=lambda n: progress.advance(task, n)
                )
        outcome = "ok" if result.ok else "broken"
        async with db.sessionmaker.begin() as session:
            record(
                session,
                None,
                "audit.chain.verified",
                "audit_log",
                None,
                purpose=f"{since or 'all'}: {outcome}, {result.rows} rows",
            )
    finally:
        await db.dispose()
    print(f"rows verified: {result.rows}")
    print(f"unsealed rows: {result.unsealed}")
    print(f"checkpoints checked: {result.checkpoints_checked}")
    print(f"head: seq {result.head.seq} {result.head.hash}")
    broken = result.first_broken
    if broken is not None:
        print(f"BROKEN at row {broken.id} (seq {broken.seq}): {broken.reason}")
        return False
    print("OK: the chain verifies")
    return True

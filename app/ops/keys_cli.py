"""``casecoord keys ...``: the field keys and the case keys (README, "Protected data")."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.platform.config import Settings, get_settings

if TYPE_CHECKING:
    from app.ops.keyrotation import RotationResult
    from app.platform.crypto import KeyRing

console = Console(stderr=True)


def _keyring_or_exit(settings: Settings) -> KeyRing:
    from app.platform.crypto import KeyConfigError, load_keyring

    try:
        return load_keyring(settings)
    except KeyConfigError as exc:
        console.print(f"[red]Encryption keys:[/red] {exc}")
        raise typer.Exit(2) from exc


keys = typer.Typer(
    help="Encryption keys of protected fields (see README, 'Protected data').",
    no_args_is_help=True,
)


@keys.command("generate")
def keys_generate(
    kid: Annotated[str | None, typer.Option(help="Key id (default: random).")] = None,
) -> None:
    """Print a new key entry to put first in CASECOORD_FIELD_KEYS."""
    from app.platform.crypto import new_key_entry

    typer.echo(new_key_entry(kid))


@keys.command("status")
def keys_status() -> None:
    """How many protected values each key id seals (none are decrypted)."""
    settings = get_settings()
    keyring = _keyring_or_exit(settings)
    counts = asyncio.run(_key_counts(settings))
    table = Table(title=f"Protected values by key (primary: {keyring.primary_kid})")
    table.add_column("key id")
    table.add_column("values", justify="right")
    table.add_column("configured")
    for kid in sorted(set(counts) | set(keyring.kids)):
        configured = "yes" if kid in keyring.kids else "NO"
        if kid == "shredded":  # values of shredded cases: no key opens them, by design
            configured = "-"
        if kid == "plaintext":  # free text from before 0021: `keys rotate` seals it
            configured = "-"
        table.add_row(kid, str(counts.get(kid, 0)), configured)
    if counts.get("plaintext"):
        table.caption = (
            "plaintext: values (one per row and column) still holding free text written "
            "before it was sealed (0021-0027); `casecoord keys rotate` seals them"
        )
    console.print(table)


async def _key_counts(settings: Settings) -> dict[str, int]:
    from app.ops.keyrotation import count_values
    from app.platform.db import Database
    from app.platform.registry import Base

    db = Database.from_url(settings.effective_database_url)
    try:
        async with db.sessionmaker() as session:
            return await count_values(session, Base.metadata)
    finally:
        await db.dispose()


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every protected value under the primary key.

    Put the new key first in CASECOORD_FIELD_KEYS (keep the old ones), restart
    the service, then run this. When it reports nothing left under the old
    keys, remove them from the setting. With development keys (no
    CASECOORD_FIELD_KEYS) a new primary is added to the key file first.
    """
    from app.platform.crypto import add_dev_primary, uses_dev_key_file

    settings = get_settings()
    _keyring_or_exit(settings)
    if uses_dev_key_file(settings):
        kid = add_dev_primary(settings)
        console.print(f"Development key file: new primary key [bold]{kid}[/bold].")
    keyring = _keyring_or_exit(settings)
    result = asyncio.run(_rotate(settings, keyring))
    console.print(
        f"[green]Re-encrypted {result.resealed} values under {result.primary_kid}[/green] "
        f"({result.current} already were; {result.skipped_changed} changed meanwhile); "
        f"{result.rewrapped} case keys rewrapped; "
        f"{result.plaintext_sealed} plaintext values sealed."
    )
    counts = asyncio.run(_key_counts(settings))
    left = {k: n for k, n in counts.items() if k not in (keyring.primary_kid, "shredded")}
    if left:
        console.print(f"[yellow]Still under other keys:[/yellow] {left}; run rotate again.")
    else:
        console.print("No value is under an older key; they may be removed from the settings.")


async def _rotate(settings: Settings, keyring: KeyRing) -> RotationResult:
    from app.audit import service as audit
    from app.ops.keyrotation import rotate, total_values
    from app.ops.progress import progress_bar
    from app.platform.db import Database
    from app.platform.registry import Base

    db = Database.from_url(settings.effective_database_url)
    try:
        async with db.sessionmaker() as session:
            total = await total_values(session, Base.metadata)
        with progress_bar(console) as progress:
            task = progress.add_task("Re-encrypting", total=total)
            result = await rotate(
                db.sessionmaker,
                Base.metadata,
                keyring,
                lambda n: progress.advance(task, n),
            )
        async with db.sessionmaker.begin() as session:
            audit.record(
                session,
                None,
                "keys.rotated",
                "key",
                keyring.primary_kid,
                purpose=f"{result.resealed} values re-encrypted",
            )
        return result
    finally:
        await db.dispose()


@keys.command("shred-case")
def keys_shred_case(
    case_id: Annotated[str, typer.Argument(help="The case whose data key is destroyed.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the case's protected values are lost for good.")
    ] = False,
) -> None:
    """Destroy a case's data key: its protected values can never be read again.

    Irreversible. Backups taken afterwards hold no key for the case; for older
    backups see docs/ARCHITECTURE.md ("Case keys and crypto-shredding").
    """
    try:
        parsed = uuid.UUID(case_id)
    except ValueError as exc:
        console.print("[red]CASE_ID must be a case id (UUID).[/red]")
        raise typer.Exit(2) from exc
    if not yes:
        console.print("[red]Refused without --yes: shredding cannot be undone.[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    outcome = asyncio.run(_shred(settings, parsed))
    if outcome is None:
        console.print("[red]No such case.[/red]")
        raise typer.Exit(1)
    destroyed, legacy = outcome
    state = "destroyed" if destroyed else "was already destroyed"
    console.print(
        f"[green]Case {parsed}: data key {state}[/green] ({legacy} older values overwritten)."
    )


async def _shred(settings: Settings, case_id: uuid.UUID) -> tuple[bool, int] | None:
    from app.casekeys.service import shred_case_key
    from app.cases.models import Case
    from app.platform.db import Database

    db = Database.from_url(settings.effective_database_url)
    try:
        async with db.sessionmaker.begin() as session:
            if await session.get(Case, case_id) is None:
                return None
            result = await shred_case_key(
                session, case_id, purpose="operator: casecoord keys shred-case"
            )
            return result.destroyed, result.legacy_values
    finally:
        await db.dispose()

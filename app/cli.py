"""The ``casecoord`` command: serve, migrate, token, openapi."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from app.config import Settings, get_settings

cli = typer.Typer(help="casecoord: case coordination for Ankkuri, Marak and HAH.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
OPENAPI_PATH = Path("openapi/openapi.json")


def _settings(demo: bool = False) -> Settings:
    settings = get_settings()
    if demo:
        if settings.env == "production":
            console.print("[red]--demo and the development key are refused in production.[/red]")
            raise typer.Exit(2)
        from app.auth.tokens import ensure_dev_key

        jwks = ensure_dev_key(settings)
        if not settings.oidc_jwks:
            settings = settings.model_copy(update={"oidc_jwks": str(jwks)})
    return settings


def _migrate(settings: Settings) -> None:
    from app.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with console.status("Applying database migrations..."):
        upgrade(settings.effective_database_url)
    console.print("[green]Database is at the latest migration.[/green]")


@cli.command()
def migrate() -> None:
    """Upgrade the database to the latest migration."""
    _migrate(get_settings())


@cli.command()
def serve(
    demo: Annotated[bool, typer.Option(help="Seed demo data and print tokens.")] = False,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database, then serve the API (with --demo: demo data and tokens)."""
    import uvicorn

    from app.logs import configure_logging
    from app.main import create_app

    settings = _settings(demo)
    _migrate(settings)
    if demo:
        from app.demo import seed_demo

        added = asyncio.run(seed_demo(settings))
        console.print(f"Demo data ready ({added} rows added).")
        _print_demo_tokens(settings, f"http://{host}:{port}")
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                access_log=False, proxy_headers=True)


def _print_demo_tokens(settings: Settings, base_url: str) -> None:
    from app.auth.tokens import mint_dev_token
    from app.demo import USERS, claims_for

    table = Table(title="Demo users (tokens valid 12 hours)")
    for column in ("user", "name", "organisation", "roles"):
        table.add_column(column)
    lines = []
    for user in USERS:
        token = mint_dev_token(settings, claims_for(user), ttl_seconds=12 * 3600)
        table.add_row(user.username, user.name, user.org, ", ".join(user.roles))
        lines.append(f"export TOKEN_{user.username.upper()}='{token}'")
    env_file = settings.data_dir / "demo-tokens.sh"
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    console.print(table)
    out = Console()
    for line in lines:
        out.print(line, soft_wrap=True, highlight=False)
    console.print(Panel(f"The same exports are saved in {env_file}. Try:", title="Try it",
                        expand=False))
    out.print(f"source {env_file}", soft_wrap=True, highlight=False)
    out.print(f'curl -s -H "Authorization: Bearer $TOKEN_POLICE" {base_url}/api/v1/me',
              soft_wrap=True, highlight=False)
    console.print(f"API docs (work offline): {base_url}/docs and {base_url}/redoc")


@cli.command()
def token(
    user: Annotated[str, typer.Argument(help="Demo user name, e.g. police, auditor, admin.")],
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print a development token for a demo user (refused in production)."""
    from app.auth.tokens import mint_dev_token
    from app.demo import USERS, claims_for, find_user

    settings = _settings(demo=True)
    demo_user = find_user(user)
    if demo_user is None:
        console.print(f"[red]Unknown demo user.[/red] Choose one of: "
                      f"{', '.join(u.username for u in USERS)}")
        raise typer.Exit(2)
    typer.echo(mint_dev_token(settings, claims_for(demo_user), ttl_seconds=ttl))


@cli.command()
def openapi(
    check: Annotated[bool, typer.Option(help="Fail if the committed file differs.")] = False,
    path: Annotated[Path, typer.Option(help="Where the contract lives.")] = OPENAPI_PATH,
) -> None:
    """Write the OpenAPI contract to openapi/openapi.json (or --check it)."""
    from app.main import create_app

    spec = json.dumps(create_app(Settings()).openapi(), indent=2, sort_keys=True) + "\n"
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != spec:
            console.print(f"[red]{path} is out of date: run `casecoord openapi`.[/red]")
            raise typer.Exit(1)
        console.print(f"[green]{path} matches the app.[/green]")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec, encoding="utf-8")
    console.print(f"Wrote {path}.")


def main() -> None:
    cli()

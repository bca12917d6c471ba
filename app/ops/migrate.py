"""Alembic, driven from code (``casecoord migrate``, ``serve``, the tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from app.platform.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


@dataclass(frozen=True)
class MigrationReport:
    """What an upgrade did: the revision before and after, and those applied between."""

    before: str | None
    after: str | None
    applied: tuple[str, ...]

    def describe(self) -> str:
        if not self.applied:
            return f"Already at the latest migration ({self.after or 'none'}); nothing applied."
        start = self.before or "an empty database"
        count = len(self.applied)
        plural = "" if count == 1 else "s"
        return (
            f"Migrated from {start} to {self.after}: {count} revision{plural} applied "
            f"({', '.join(self.applied)})."
        )


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _current_revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None: not migrated). Call it outside an event loop."""
    return asyncio.run(_current_revision(database_url))


def upgrade(database_url: str, revision: str = "head", keyring: Any = None) -> MigrationReport:
    """Upgrade the database and report what was applied. Uses its own event loop:
    call it outside one.

    ``keyring`` (a KeyRing or a callable returning one, loaded only if a
    migration moves sealed values: 0010 does) defaults to the settings' keys.
    """
    cfg = alembic_config(database_url)
    if keyring is not None:
        cfg.attributes["keyring"] = keyring
    before = current_revision(database_url)
    command.upgrade(cfg, revision)
    after = current_revision(database_url)
    applied: tuple[str, ...] = ()
    if after != before and after is not None:
        script = ScriptDirectory.from_config(cfg)
        steps = script.iterate_revisions(after, before)  # newest first, `before` excluded
        applied = tuple(reversed([step.revision for step in steps]))
    return MigrationReport(before=before, after=after, applied=applied)


def downgrade(database_url: str, revision: str, keyring: Any = None) -> None:
    """Downgrade (tests and emergencies; 0010's downgrade is lossy)."""
    cfg = alembic_config(database_url)
    if keyring is not None:
        cfg.attributes["keyring"] = keyring
    command.downgrade(cfg, revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    command.check(alembic_config(database_url))


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

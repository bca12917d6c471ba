"""Alembic, driven from code (``casecoord migrate``, ``serve``, the tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head", keyring: Any = None) -> None:
    """Upgrade the database. Uses its own event loop: call it outside one.

    ``keyring`` (a KeyRing or a callable returning one, loaded only if a
    migration moves sealed values: 0010 does) defaults to the settings' keys.
    """
    cfg = alembic_config(database_url)
    if keyring is not None:
        cfg.attributes["keyring"] = keyring
    command.upgrade(cfg, revision)


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

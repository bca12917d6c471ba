"""``casecoord migrate`` says what it applied: revisions from -> to, or nothing to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.ops.migrate import current_revision, downgrade, head_revision, upgrade
from app.platform.config import get_settings


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """The CLI reads settings from the environment once; forget them around each test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_upgrade_reports_the_revisions_it_applied(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'report.db'}"
    head = head_revision()
    first = upgrade(url)
    assert (first.before, first.after) == (None, head)
    assert first.applied[0] == "0001" and first.applied[-1] == head
    assert list(first.applied) == sorted(first.applied)  # in the order they ran

    downgrade(url, "0011")
    assert current_revision(url) == "0011"
    second = upgrade(url)
    assert (second.before, second.after) == ("0011", head)
    assert "0011" not in second.applied and second.applied[-1] == head
    assert second.describe().startswith(f"Migrated from 0011 to {head}:")

    again = upgrade(url)
    assert (again.before, again.after, again.applied) == (head, head, ())
    assert again.describe().startswith("Already at the latest migration")


def test_migrate_command_prints_what_it_did(tmp_path: Path, fresh_settings: None) -> None:
    env = {"CASECOORD_DATA_DIR": str(tmp_path / "data"), "CASECOORD_DATABASE_URL": ""}
    head = head_revision()
    runner = CliRunner()
    first = runner.invoke(cli, ["migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert f"Migrated from an empty database to {head}" in " ".join(first.output.split())
    get_settings.cache_clear()
    second = runner.invoke(cli, ["migrate"], env=env)
    assert second.exit_code == 0, second.output
    assert f"Already at the latest migration ({head})" in second.output

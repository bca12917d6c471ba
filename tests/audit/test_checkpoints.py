"""Signed checkpoints: C2SP signed notes that pin a period's head outside the database."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from app.audit import checkpoints
from app.audit.verify import verify
from app.cli import cli
from app.platform.config import get_settings
from tests.audit.chain_helpers import _id_param, drop_guard, rechain_from, sealed_rows, seq_of, sql

ORIGIN = "casecoord.test/audit"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "audit-checkpoint.key"
    checkpoints.generate_key(path, ORIGIN)
    return path


def vkey(key_path: Path) -> str:
    return checkpoints.public_path(key_path).read_text(encoding="utf-8")


async def pin_now(db: AsyncSession, key_path: Path, out: Path) -> dict[str, dict[int, str]]:
    key = checkpoints.load_key(key_path, ORIGIN, create=False)
    checkpoints.write(out, await checkpoints.current(db, ORIGIN), key)
    return checkpoints.read_all(out, vkey(key_path))


class TestSignedNotes:
    def test_round_trip_and_shape(self, key_path: Path) -> None:
        key = checkpoints.load_key(key_path, ORIGIN, create=False)
        cp = checkpoints.Checkpoint(ORIGIN, "2001-03", 7, "ab" * 32)
        note = checkpoints.sign(cp, key)
        body, _, signature = note.partition("\n\n")
        assert body.split("\n") == [ORIGIN, "2001-03", "7", body.split("\n")[3]]
        assert signature.startswith(f"\u2014 {ORIGIN} ")
        assert checkpoints.open_note(note, vkey(key_path)) == cp

    def test_an_edited_note_is_refused(self, key_path: Path) -> None:
        key = checkpoints.load_key(key_path, ORIGIN, create=False)
        note = checkpoints.sign(checkpoints.Checkpoint(ORIGIN, "2001-03", 7, "ab" * 32), key)
        with pytest.raises(checkpoints.CheckpointError, match="signature"):
            checkpoints.open_note(note.replace("\n7\n", "\n8\n"), vkey(key_path))

    def test_another_key_is_refused(self, key_path: Path, tmp_path: Path) -> None:
        other = tmp_path / "other.key"
        checkpoints.generate_key(other, ORIGIN)
        key = checkpoints.load_key(other, ORIGIN, create=False)
        note = checkpoints.sign(checkpoints.Checkpoint(ORIGIN, "2001-03", 1, "cd" * 32), key)
        with pytest.raises(checkpoints.CheckpointError):
            checkpoints.open_note(note, vkey(key_path))

    def test_an_existing_key_is_never_replaced_silently(self, key_path: Path) -> None:
        with pytest.raises(checkpoints.CheckpointError, match="exists"):
            checkpoints.generate_key(key_path, ORIGIN)
        assert key_path.stat().st_mode & 0o777 == 0o600


class TestChainAgainstCheckpoints:
    async def test_a_rewritten_tail_disagrees_with_the_checkpoint(
        self, db: AsyncSession, key_path: Path, tmp_path: Path
    ) -> None:
        ids = await sealed_rows(db, 6)
        pins = await pin_now(db, key_path, tmp_path / "cp")
        result = await verify(db, expect=pins)
        assert result.ok and result.checkpoints_checked >= 1

        await drop_guard(db)
        await sql(
            db,
            "UPDATE audit_events SET reason = 'rewritten' WHERE id = :i",
            i=_id_param(db, uuid.UUID(ids[2])),
        )
        await rechain_from(db, await seq_of(db, ids[2]))
        assert (await verify(db)).ok  # consistent on its own...
        broken = (await verify(db, expect=pins)).first_broken
        assert broken is not None and "checkpoint" in broken.reason  # ...but not with the note

    async def test_a_truncated_tail_is_caught(
        self, db: AsyncSession, key_path: Path, tmp_path: Path
    ) -> None:
        ids = await sealed_rows(db, 6)
        pins = await pin_now(db, key_path, tmp_path / "cp")
        await drop_guard(db)
        for row in ids[-2:]:
            await sql(db, "DELETE FROM audit_events WHERE id = :i", i=_id_param(db, uuid.UUID(row)))
        assert (await verify(db)).ok  # nothing after the cut to notice it...
        broken = (await verify(db, expect=pins)).first_broken
        assert broken is not None and "deleted from the end" in broken.reason


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(data_dir: Path, *args: str) -> Result:
    env = {
        "CASECOORD_DATA_DIR": str(data_dir),
        "CASECOORD_OIDC_JWKS": "",
        "CASECOORD_DATABASE_URL": "",
    }
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.usefixtures("fresh_settings")
class TestAuditCommands:
    """On a scratch SQLite file of its own, on every backend (the CLI commits)."""

    def test_keygen_checkpoint_verify_and_a_tampered_row(self, tmp_path: Path) -> None:
        data = tmp_path / "data"
        assert run(data, "migrate").exit_code == 0
        keygen = run(data, "audit", "keygen")
        assert keygen.exit_code == 0, keygen.output
        assert keygen.stdout.startswith("casecoord/audit+")
        for _ in range(3):  # each run leaves an audit row, sealed by the next
            assert run(data, "audit", "verify").exit_code == 0
        cp = run(data, "audit", "checkpoint", "--out", str(tmp_path / "cp"))
        assert cp.exit_code == 0, cp.output
        assert len(list((tmp_path / "cp").glob("*.checkpoint"))) == 1
        ok = run(data, "audit", "verify", "--checkpoints", str(tmp_path / "cp"))
        assert ok.exit_code == 0, ok.output
        assert "checkpoints checked: 1" in ok.stdout and "OK" in ok.stdout

        with sqlite3.connect(data / "casecoord.db") as conn:
            conn.execute("DROP TRIGGER audit_events_no_update")
            (victim,) = conn.execute("SELECT id FROM audit_events WHERE chain_seq = 2").fetchone()
            conn.execute("UPDATE audit_events SET purpose = 'rewritten' WHERE id = ?", (victim,))
        bad = run(data, "audit", "verify", "--checkpoints", str(tmp_path / "cp"))
        assert bad.exit_code == 1, bad.output
        assert f"BROKEN at row {uuid.UUID(victim)}" in bad.stdout

    def test_a_bad_period_is_refused(self, tmp_path: Path) -> None:
        assert run(tmp_path, "audit", "verify", "--since", "2001-13").exit_code == 2

"""The repository's docs live in it: nothing points outside, and cited sections exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCANNED = ("app", "tests", "migrations", "bench", "docs", ".ci")
SUFFIXES = {".py", ".md", ".json", ".toml", ".ini", ""}
OUTSIDE = re.compile(r"\.\./shared|shared/docs|\.\./seed/")
#: "docs/DOMAIN.md section 4", "DOMAIN.md sections 1 and 4", "docs/ARCHITECTURE.md section 2"
CITATION = re.compile(
    r"\b(DOMAIN|ARCHITECTURE)\.md,? (?:section|sections|s\.) (\d+)(?: and (\d+))?"
)


def _files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "Dockerfile", ROOT / "pyproject.toml"]
    for top in SCANNED:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                found.append(path)
    return [p for p in found if p.exists() and p != Path(__file__).resolve()]


def _sections(name: str) -> set[int]:
    text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    return {int(n) for n in re.findall(r"^## (\d+)\.", text, re.MULTILINE)}


def test_nothing_points_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in _files()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_cited_section_exists_in_docs() -> None:
    sections = {name: _sections(name) for name in ("DOMAIN", "ARCHITECTURE")}
    assert sections["DOMAIN"] >= {1, 2, 3, 4, 5}
    missing, cited = [], 0
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, first, second in CITATION.findall(text):
            for number in filter(None, (first, second)):
                cited += 1
                if int(number) not in sections[name]:
                    missing.append(f"{path.relative_to(ROOT)}: {name}.md section {number}")
    assert missing == []
    assert cited >= 20  # the code does cite them (the pattern still matches)

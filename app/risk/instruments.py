"""The instrument registry: every definition version, validated once at start-up.

Definitions ship as ``instruments/{code}@{version}.json``. A version becomes
*published* when its content hash is entered in ``instruments/published.json``;
from then on assessments pin it and must be re-readable and re-scorable
exactly, so its content may never change. The loader therefore refuses to
start when

- a file does not parse, or does not satisfy the definition schema or its
  scheme's contract (see :func:`app.risk.scoring.contract_errors`);
- two files claim the same ``code@version``;
- a file's content no longer matches its published hash (change it by adding
  a new version, never by editing one);
- a file is not published yet, or a published version has lost its file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from pydantic import ValidationError

from app.risk.exceptions import (
    DuplicateInstrument,
    ImmutableVersionChanged,
    InstrumentDefinitionError,
    InstrumentNotFound,
)
from app.risk.schemas import InstrumentDefinition
from app.risk.scoring import contract_errors

PUBLISHED_FILE = "published.json"
FILE_NAME = re.compile(r"^(?P<code>[a-z][a-z0-9-]{1,62})@(?P<version>[1-9][0-9]{0,4})\.json$")


def content_hash(definition: InstrumentDefinition) -> str:
    """SHA-256 of the canonical JSON of the definition as written.

    Independent of layout and key order. Only fields the definition sets are
    hashed, so a later schema field with a default does not "change" every
    published version.
    """
    canonical = json.dumps(
        definition.model_dump(mode="json", exclude_unset=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def key_name(code: str, version: int) -> str:
    return f"{code}@{version}"


@dataclass(frozen=True)
class PublishedInstrument:
    definition: InstrumentDefinition
    content_hash: str


class InstrumentRegistry:
    """All known versions, keyed by ``(code, version)``. Read-only once loaded."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], PublishedInstrument] = {}

    def add(self, definition: InstrumentDefinition, published_hash: str | None) -> None:
        """Register one version; ``published_hash`` is what was published for it."""
        name = key_name(*definition.key)
        if definition.key in self._entries:
            raise DuplicateInstrument(f"{name} is defined twice")
        problems = contract_errors(definition)
        if problems:
            raise InstrumentDefinitionError(f"{name}: " + "; ".join(problems))
        actual = content_hash(definition)
        if published_hash is None:
            raise InstrumentDefinitionError(
                f"{name} is not published: add {json.dumps({name: actual})} to {PUBLISHED_FILE}"
            )
        if actual != published_hash:
            raise ImmutableVersionChanged(
                f"{name} differs from its published content ({published_hash}, now {actual}); "
                "published versions are immutable, so publish the change as a new version"
            )
        self._entries[definition.key] = PublishedInstrument(definition, actual)

    def get(self, code: str, version: int) -> PublishedInstrument:
        entry = self._entries.get((code, version))
        if entry is None:
            raise InstrumentNotFound(f"There is no instrument {key_name(code, version)}.")
        return entry

    def __iter__(self) -> Iterator[PublishedInstrument]:
        return iter(sorted(self._entries.values(), key=lambda e: e.definition.key))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def _read_json(entry: Traversable) -> Any:
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstrumentDefinitionError(f"{entry.name}: not readable JSON ({exc})") from exc


def _read_published(directory: Traversable) -> dict[str, str]:
    entry = directory / PUBLISHED_FILE
    if not entry.is_file():
        return {}
    data = _read_json(entry)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InstrumentDefinitionError(f"{PUBLISHED_FILE}: expected {{'code@version': 'hash'}}")
    return data


def parse_definition(name: str, data: Any) -> InstrumentDefinition:
    """Validate one definition; the file name must agree with its code and version."""
    match = FILE_NAME.match(name)
    if match is None:
        raise InstrumentDefinitionError(f"{name}: file names look like 'marak-ric@1.json'")
    try:
        definition = InstrumentDefinition.model_validate(data)
    except ValidationError as exc:
        faults = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'definition'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InstrumentDefinitionError(f"{name}: {faults}") from exc
    if (match["code"], int(match["version"])) != definition.key:
        raise InstrumentDefinitionError(
            f"{name}: the file holds {key_name(*definition.key)}; name it after its content"
        )
    return definition


def load_directory(
    directory: Traversable, published: Mapping[str, str] | None = None
) -> InstrumentRegistry:
    """Load and check every definition in ``directory`` (fail on the first fault)."""
    pins = dict(_read_published(directory) if published is None else published)
    registry = InstrumentRegistry()
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.name == PUBLISHED_FILE or not entry.name.endswith(".json"):
            continue
        definition = parse_definition(entry.name, _read_json(entry))
        registry.add(definition, pins.get(key_name(*definition.key)))
    missing = sorted(name for name in pins if tuple(_split(name)) not in registry)
    if missing:
        raise InstrumentDefinitionError(
            f"published versions without a definition: {missing}; assessments may pin them, "
            "so a published version is never removed"
        )
    return registry


def _split(name: str) -> tuple[str, int]:
    code, _, version = name.rpartition("@")
    return code, int(version) if version.isdigit() else -1


def shipped_directory() -> Traversable:
    return resources.files("app.risk") / "instruments"


@lru_cache(maxsize=1)
def default_registry() -> InstrumentRegistry:
    """The shipped instruments, loaded once per process."""
    return load_directory(shipped_directory())

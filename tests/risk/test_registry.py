"""Loading definitions: fail loudly, and never let a published version change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.risk.exceptions import (
    DuplicateInstrument,
    ImmutableVersionChanged,
    InstrumentDefinitionError,
    InstrumentNotFound,
)
from app.risk.instruments import (
    PUBLISHED_FILE,
    InstrumentRegistry,
    content_hash,
    default_registry,
    load_directory,
    shipped_directory,
)
from tests.risk.answers import definition


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped instruments directory."""
    for entry in shipped_directory().iterdir():
        shutil.copyfile(str(entry), tmp_path / entry.name)
    return tmp_path


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


class TestLoading:
    def test_the_shipped_directory_loads_with_its_published_hashes(self) -> None:
        published = json.loads((shipped_directory() / PUBLISHED_FILE).read_text())
        registry = default_registry()
        assert {
            f"{e.definition.code}@{e.definition.version}": e.content_hash for e in registry
        } == (published)

    def test_the_default_registry_is_loaded_once(self) -> None:
        assert default_registry() is default_registry()

    def test_a_copy_loads_too(self, copy: Path) -> None:
        assert len(load_directory(copy)) == 3

    def test_unknown_code_or_version_is_not_found(self) -> None:
        with pytest.raises(InstrumentNotFound):
            default_registry().get("marak-ric", 2)
        with pytest.raises(InstrumentNotFound):
            default_registry().get("nope", 1)

    def test_invalid_json_fails(self, copy: Path) -> None:
        (copy / "marak-ric@1.json").write_text("{not json", encoding="utf-8")
        with pytest.raises(InstrumentDefinitionError, match=r"marak-ric@1\.json"):
            load_directory(copy)

    def test_an_invalid_definition_fails_naming_the_file_and_field(self, copy: Path) -> None:
        edit(copy / "hah-warning-behaviours@1.json", lambda d: d["title"].pop("sv"))
        with pytest.raises(InstrumentDefinitionError, match=r"hah-warning-behaviours@1.json.*sv"):
            load_directory(copy)

    def test_a_file_named_after_another_version_fails(self, copy: Path) -> None:
        (copy / "marak-ric@1.json").rename(copy / "marak-ric@7.json")
        with pytest.raises(InstrumentDefinitionError, match="name it after its content"):
            load_directory(copy)

    def test_a_badly_named_file_fails(self, copy: Path) -> None:
        (copy / "marak-ric@1.json").rename(copy / "marak.json")
        with pytest.raises(InstrumentDefinitionError, match="file names look like"):
            load_directory(copy)

    def test_a_marak_version_without_the_judgement_field_fails(self, copy: Path) -> None:
        def drop_judgement(d: dict[str, Any]) -> None:
            d["judgement_fields"] = [
                f for f in d["judgement_fields"] if f["code"] != "professional_judgement"
            ]
            d["judgement_fields"][0].pop("required_when")

        edit(copy / "marak-ric@1.json", drop_judgement)
        with pytest.raises(InstrumentDefinitionError, match="professional_judgement"):
            load_directory(copy)

    def test_the_same_code_and_version_twice_fails(self) -> None:
        registry = InstrumentRegistry()
        d = definition("ankkuri-needs")
        registry.add(d, content_hash(d))
        with pytest.raises(DuplicateInstrument):
            registry.add(d, content_hash(d))


class TestImmutability:
    def test_changed_content_with_the_same_version_fails(self, copy: Path) -> None:
        def reword(d: dict[str, Any]) -> None:
            d["items"][0]["label"]["en"] = "Injured this time"

        edit(copy / "marak-ric@1.json", reword)
        with pytest.raises(ImmutableVersionChanged, match="new version"):
            load_directory(copy)

    def test_a_changed_threshold_with_the_same_version_fails(self, copy: Path) -> None:
        edit(copy / "marak-ric@1.json", lambda d: d["scoring"].update(threshold=10))
        with pytest.raises(ImmutableVersionChanged):
            load_directory(copy)

    def test_layout_and_key_order_do_not_count_as_changes(self, copy: Path) -> None:
        path = copy / "ankkuri-needs@1.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(dict(reversed(data.items())), indent=7), encoding="utf-8")
        assert len(load_directory(copy)) == 3

    def test_a_new_version_is_published_next_to_the_old_one(self, copy: Path) -> None:
        data = json.loads((copy / "marak-ric@1.json").read_text(encoding="utf-8"))
        data["version"] = 2
        data["scoring"]["threshold"] = 12
        (copy / "marak-ric@2.json").write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(InstrumentDefinitionError, match="not published") as caught:
            load_directory(copy)
        # The error names the hash to publish; publishing it makes both versions load.
        pin = json.loads(str(caught.value).split("add ", 1)[1].split(" to ", 1)[0])
        edit(copy / PUBLISHED_FILE, lambda d: d.update(pin))
        registry = load_directory(copy)
        assert registry.get("marak-ric", 1).definition.scoring.threshold == 14
        assert registry.get("marak-ric", 2).definition.scoring.threshold == 12

    def test_a_published_version_may_not_disappear(self, copy: Path) -> None:
        (copy / "ankkuri-needs@1.json").unlink()
        with pytest.raises(InstrumentDefinitionError, match="ankkuri-needs@1"):
            load_directory(copy)

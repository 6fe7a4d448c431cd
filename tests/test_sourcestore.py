"""Tests for fastpipe.sourcestore: normalized sources by manifest hash, and their diffs."""

from __future__ import annotations

from pathlib import Path

from fastpipe import sourcestore
from fastpipe.layout import Layout


def test_store_keeps_sources_once_and_skips_non_definitions(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    asked: list[str] = []

    def source_of(item: str) -> str | None:
        asked.append(item)
        return None if item == "pipeline.N" else f"def {item}(): ..."

    items = {"pipeline.f": "ab12", "pipeline.N": "cd34"}
    sourcestore.store(layout, items, source_of)
    assert sourcestore.load(layout, "ab12") == "def pipeline.f(): ..."
    assert sourcestore.load(layout, "cd34") is None
    sourcestore.store(layout, items, source_of)
    assert asked == ["pipeline.f", "pipeline.N", "pipeline.N"]  # stored ones are not redone


def test_pending_sources_are_written_later_each_once(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    first = sourcestore.pending(layout, {"pipeline.f": "ab12"}, lambda item: "def f(): ...")
    again = sourcestore.pending(layout, {"pipeline.f": "ab12"}, lambda item: "def f(): ...")
    assert sourcestore.load(layout, "ab12") is None  # nothing written yet
    sourcestore.write([*first, *again])
    assert sourcestore.load(layout, "ab12") == "def f(): ..."
    assert sourcestore.pending(layout, {"pipeline.f": "ab12"}, lambda item: "x") == []


def test_a_hash_that_is_not_a_digest_is_never_a_path(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    sourcestore.store(layout, {"x": "../../evil"}, lambda item: "text")
    assert sourcestore.load(layout, "../../evil") is None
    assert not (tmp_path / "evil").exists()


def test_added_and_removed_items_diff_against_nothing(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    sourcestore.store(layout, {"m.old": "aa11"}, lambda item: "def old():\n    pass")
    changes = {"m.new": "added", "m.old": "removed", "package numpy": "1 -> 2", "m.K": "changed"}
    old = {"m.new": None, "m.old": "aa11", "m.K": "bb22"}
    new = {"m.new": "cc33", "m.old": None, "m.K": "dd44"}
    sources = {"m.new": "def new():\n    pass"}
    found = {d.item: d for d in sourcestore.diffs(layout, changes, old, new, sources.get)}
    assert set(found) == {"m.new", "m.old", "m.K"}
    assert "+def new():\n" in (found["m.new"].diff or "")
    assert "-def old():\n" in (found["m.old"].diff or "")
    assert found["m.K"].problem == "no source to show (not a function or class)"

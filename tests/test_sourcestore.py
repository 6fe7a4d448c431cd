"""Tests for fastpipe.sourcestore: definitions by manifest hash, shown as normalized source."""

from __future__ import annotations

from pathlib import Path

from fastpipe import sourcestore
from fastpipe.fingerprint.readable import Readable, Shape
from fastpipe.layout import Layout


def _def(text: str) -> Readable:
    return Readable(text, Shape.FUNCTION)


def test_store_keeps_definitions_once_and_skips_non_definitions(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    asked: list[str] = []

    def definition_of(item: str) -> Readable | None:
        asked.append(item)
        return None if item == "pipeline.N" else _def("def f():\n    # a comment\n    pass\n")

    items = {"pipeline.f": "ab12", "pipeline.N": "cd34"}
    sourcestore.store(layout, items, definition_of)
    assert sourcestore.load(layout, "ab12") == "def f():\n    pass"  # rendered when read
    assert sourcestore.load(layout, "cd34") is None
    sourcestore.store(layout, items, definition_of)
    assert asked == ["pipeline.f", "pipeline.N", "pipeline.N"]  # stored ones are not redone


def test_what_is_stored_is_the_definition_as_written_with_a_versioned_header(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    stage = Readable("@stage(outs=['o'])\ndef s(n=1):\n    return n\n", Shape.STAGE, (0,))
    sourcestore.store(layout, {"pipeline.s": "ee55"}, lambda item: stage)
    stored = (tmp_path / ".fastpipe" / "cache" / "sources" / "ee" / "ee55").read_bytes()
    assert stored == b"fastpipe-source 1 stage 0\n@stage(outs=['o'])\ndef s(n=1):\n    return n\n"
    assert sourcestore.load(layout, "ee55") == "def s(n):\n    return n"


def test_text_stored_before_definitions_were_still_shows(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    path = tmp_path / ".fastpipe" / "cache" / "sources" / "ab" / "ab12"
    path.parent.mkdir(parents=True)
    path.write_text("def f():\n    pass")
    assert sourcestore.load(layout, "ab12") == "def f():\n    pass"
    path.write_bytes(b"fastpipe-source 9 function -\ndef f(): pass\n")  # a later version
    assert sourcestore.load(layout, "ab12") is None
    path.write_bytes(b"fastpipe-source 1 nonsense -\ndef f(): pass\n")
    assert sourcestore.load(layout, "ab12") is None
    path.write_bytes(b"\xff\xfe")
    assert sourcestore.load(layout, "ab12") is None


def test_pending_definitions_are_written_later_each_looked_at_once_a_run(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    seen: set[str] = set()
    asked: list[str] = []

    def definition_of(item: str) -> Readable:
        asked.append(item)
        return _def("def f(): ...\n")

    first = sourcestore.pending(layout, {"pipeline.f": "ab12"}, definition_of, seen)
    again = sourcestore.pending(layout, {"pipeline.f": "ab12"}, definition_of, seen)
    assert (len(first), again, asked) == (1, [], ["pipeline.f"])  # a shared helper: once
    assert sourcestore.load(layout, "ab12") is None  # nothing written yet
    sourcestore.write(first)
    assert sourcestore.load(layout, "ab12") == "def f():\n    ..."
    assert sourcestore.pending(layout, {"pipeline.f": "ab12"}, definition_of) == []


def test_a_hash_that_is_not_a_digest_is_never_a_path(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    sourcestore.store(layout, {"x": "../../evil"}, lambda item: _def("def f(): pass\n"))
    assert sourcestore.load(layout, "../../evil") is None
    assert not (tmp_path / "evil").exists()


def test_added_and_removed_items_diff_against_nothing(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    sourcestore.store(layout, {"m.old": "aa11"}, lambda item: _def("def old():\n    pass\n"))
    changes = {"m.new": "added", "m.old": "removed", "package numpy": "1 -> 2", "m.K": "changed"}
    old = {"m.new": None, "m.old": "aa11", "m.K": "bb22"}
    new = {"m.new": "cc33", "m.old": None, "m.K": "dd44"}
    sources = {"m.new": "def new():\n    pass"}
    found = {d.item: d for d in sourcestore.diffs(layout, changes, old, new, sources.get)}
    assert set(found) == {"m.new", "m.old", "m.K"}
    assert "+def new():\n" in (found["m.new"].diff or "")
    assert "-def old():\n" in (found["m.old"].diff or "")
    assert found["m.K"].problem == "no source to show (not a function or class)"

"""The run cache: keys from inputs, entries read as untrusted input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fastpipe.errors import UnsafeInputError
from fastpipe.hashing import FileHash
from fastpipe.runcache import RunCache, run_key

H = FileHash("a" * 32, 3)


def test_key_changes_with_each_input() -> None:
    base = run_key({"m.f": "1"}, {"lr": 0.1}, {"d": H}, [("o", True)])
    assert base == run_key({"m.f": "1"}, {"lr": 0.1}, {"d": H}, [("o", True)])
    assert base != run_key({"m.f": "2"}, {"lr": 0.1}, {"d": H}, [("o", True)])
    assert base != run_key({"m.f": "1"}, {"lr": 1}, {"d": H}, [("o", True)])
    assert base != run_key({"m.f": "1"}, {"lr": 0.1}, {"d": FileHash("b" * 32, 3)}, [("o", True)])
    assert base != run_key({"m.f": "1"}, {"lr": 0.1}, {"d": H}, [("o", False)])


def test_round_trip_and_stage_check(tmp_path: Path) -> None:
    runs = RunCache(tmp_path)
    key = "c" * 32
    runs.put(key, "train", {"model.txt": H})
    assert runs.get(key, "train") == {"model.txt": H}
    assert runs.get(key, "other") is None
    assert runs.get("d" * 32, "train") is None
    assert [k for k, _ in runs.entries()] == [key]
    assert runs.outs_of(runs.path(key)) == [H.hash]


@pytest.mark.parametrize(
    "outs",
    [{"../escape": {"hash": "a" * 32, "size": 1}}, {"/abs": {"hash": "a" * 32, "size": 1}}],
)
def test_entry_leaving_the_root_is_refused(tmp_path: Path, outs: dict[str, object]) -> None:
    runs = RunCache(tmp_path)
    key = "e" * 32
    runs.path(key).parent.mkdir(parents=True)
    runs.path(key).write_text(json.dumps({"schema": 1, "stage": "s", "outs": outs}))
    with pytest.raises(UnsafeInputError):
        runs.get(key, "s")


def test_malformed_entries_are_unusable(tmp_path: Path) -> None:
    runs = RunCache(tmp_path)
    key = "f" * 32
    runs.path(key).parent.mkdir(parents=True)
    for doc in ([], {"schema": 2}, {"schema": 1, "stage": "s", "outs": []}, "x"):
        runs.path(key).write_text(json.dumps(doc))
        assert runs.get(key, "s") is None
    runs.path(key).write_text(json.dumps({"schema": 1, "stage": "s", "outs": {"o": {"x": 1}}}))
    assert runs.get(key, "s") is None
    assert runs.outs_of(runs.path(key)) == []
    with pytest.raises(UnsafeInputError):
        runs.path("nothex")

"""Locks written by the background writer: in order, atomically, failures reported."""

from __future__ import annotations

from pathlib import Path

from fastpipe.lockfile import LockEntry, read_lock
from fastpipe.lockwriter import LockWriter


def entry(stage: str) -> LockEntry:
    return LockEntry(stage=stage, code={"m.f": "h"}, params={"n": 1}, deps={}, outs={})


def test_queued_locks_are_all_written_and_the_moved_aside_copy_removed(tmp_path: Path) -> None:
    aside = tmp_path / "aside.lock"
    aside.write_text("old")
    writer = LockWriter()
    for i in range(20):
        writer.write(tmp_path / f"s{i}.lock", entry(f"s{i}"), aside)
    assert writer.close() == {}
    for i in range(20):
        found = read_lock(tmp_path / f"s{i}.lock")
        assert found.entry is not None and found.entry.stage == f"s{i}"
    assert not aside.exists()


def test_a_lock_that_cannot_be_written_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    writer = LockWriter()
    writer.write(blocker / "s.lock", entry("s"), tmp_path / "aside.lock")
    writer.write(tmp_path / "ok.lock", entry("ok"), tmp_path / "aside.lock")
    failures = writer.close()
    assert set(failures) == {"s"}
    assert (tmp_path / "ok.lock").exists()

"""Parsed locks reused only while their file is unchanged (and not racy)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fastpipe import lockcache
from fastpipe.lockcache import LockCache
from fastpipe.lockfile import LockEntry, write_lock


def entry(stage: str, value: int = 1) -> LockEntry:
    return LockEntry(stage=stage, code={"m.f": "h"}, params={"n": value}, deps={}, outs={})


def age(path: Path, seconds: float = 30) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    parsed: list[Path] = []
    real = lockcache.read_lock

    def spy(path: Path):
        parsed.append(path)
        return real(path)

    monkeypatch.setattr(lockcache, "read_lock", spy)
    return parsed


def test_an_unchanged_lock_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "s.lock"
    write_lock(lock, entry("s"))
    age(lock)
    parsed = count_parses(monkeypatch)
    cache = LockCache.load(tmp_path / "locks.json")
    first = cache.read(lock)
    cache.save()
    again = LockCache.load(tmp_path / "locks.json").read(lock)
    assert first.entry == again.entry == entry("s")
    assert parsed == [lock]


def test_a_changed_lock_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "s.lock"
    write_lock(lock, entry("s", 1))
    age(lock)
    cache = LockCache.load(tmp_path / "locks.json")
    cache.read(lock)
    cache.save()
    write_lock(lock, entry("s", 2))
    age(lock, 10)
    found = LockCache.load(tmp_path / "locks.json").read(lock)
    assert found.entry is not None and found.entry.params == {"n": 2}


def test_a_just_written_lock_is_never_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "s.lock"
    write_lock(lock, entry("s"))  # mtime: now, within the racy window
    cache = LockCache.load(tmp_path / "locks.json")
    cache.read(lock)
    parsed = count_parses(monkeypatch)
    cache.read(lock)
    assert parsed == [lock]


def test_missing_and_unreadable(tmp_path: Path) -> None:
    cache = LockCache.load(tmp_path / "locks.json")
    assert cache.read(tmp_path / "absent.lock").entry is None
    bad = tmp_path / "bad.lock"
    bad.write_text("a: b: c")
    found = cache.read(bad)
    assert found.entry is None and found.problem is not None
    (tmp_path / "locks.json").write_text("{corrupt")
    assert LockCache.load(tmp_path / "locks.json").read(bad).problem is not None

"""Parsed locks reused only for the very bytes they were parsed from."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fastpipe import lockcache
from fastpipe.lockcache import LockCache
from fastpipe.lockfile import LockEntry, write_lock, write_locks


def entry(stage: str, value: int = 1) -> LockEntry:
    return LockEntry(stage=stage, code={"m.f": "h"}, params={"n": value}, deps={}, outs={})


def age(path: Path, seconds: float = 30) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    parsed: list[Path] = []
    real = lockcache.lock_from_bytes

    def spy(path: Path, data: bytes):
        parsed.append(path)
        return real(path, data)

    monkeypatch.setattr(lockcache, "lock_from_bytes", spy)
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


def test_a_just_written_lock_is_served_by_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "s.lock"
    write_lock(lock, entry("s"))  # no waiting: the digest of the bytes decides
    cache = LockCache.load(tmp_path / "locks.json")
    cache.read(lock)
    parsed = count_parses(monkeypatch)
    assert cache.read(lock).entry == entry("s")
    assert parsed == []


def test_a_rewrite_keeping_size_mtime_and_inode_is_parsed_again(tmp_path: Path) -> None:
    """What a stat-keyed cache cannot see: same size, same mtime, same inode, new bytes."""
    lock = tmp_path / "s.lock"
    write_lock(lock, entry("s", 1))
    before = os.stat(lock)
    cache = LockCache.load(tmp_path / "locks.json")
    assert cache.read(lock).entry == entry("s", 1)
    cache.save()
    text = lock.read_bytes().replace(b"n: 1", b"n: 2")
    with open(lock, "r+b") as f:  # in place: the inode stays
        f.write(text)
    os.utime(lock, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(lock)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    for reader in (cache, LockCache.load(tmp_path / "locks.json")):
        found = reader.read(lock)
        assert found.entry is not None and found.entry.params == {"n": 2}


def test_remembered_locks_need_no_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "s.lock"
    [data] = write_locks([(lock, entry("s"))])
    cache = LockCache.load(tmp_path / "locks.json")
    cache.remember(lock, data, entry("s"))
    cache.save()
    parsed = count_parses(monkeypatch)
    assert LockCache.load(tmp_path / "locks.json").read(lock).entry == entry("s")
    assert parsed == []
    lock.write_bytes(data + b"# edited\n")  # other bytes: parsed, whatever they say
    assert LockCache.load(tmp_path / "locks.json").read(lock).entry == entry("s")
    assert parsed == [lock]


def test_values_json_would_change_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "s.lock"
    odd = LockEntry(stage="s", code={}, params={"x": float("nan")}, deps={}, outs={})
    write_lock(lock, odd)
    cache = LockCache.load(tmp_path / "locks.json")
    cache.read(lock)
    cache.save()
    parsed = count_parses(monkeypatch)
    LockCache.load(tmp_path / "locks.json").read(lock)
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

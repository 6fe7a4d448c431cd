"""Tests for fastpipe.hashing: file and tree hashes, and the stat cache."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpipe import hashing
from fastpipe.hashing import (
    RACY_WINDOW_NS,
    FileHash,
    StatCache,
    StatEntry,
    hash_file,
    hash_path,
)

OLD_NS = 1_000_000_000_000_000_000  # 2001-09-09: far older than any racy window


def write(root: Path, relpath: str, data: bytes = b"x") -> Path:
    """Write a file (creating parents) with an mtime old enough to be cacheable."""
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def tree_hash(root: Path, relpath: str = "d") -> str:
    result = hash_path(root, relpath, StatCache.empty())
    assert result is not None
    return result.hash


def fake_stat(size: int = 3, mtime_ns: int = OLD_NS, ctime_ns: int = OLD_NS, ino: int = 7):
    """An os.stat_result with just the fields the cache keys on."""
    return os.stat_result(
        (0o100644, ino, 1, 1, 0, 0, size, 0, 0, 0),
        {"st_mtime_ns": mtime_ns, "st_ctime_ns": ctime_ns},
    )


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count calls of hash_file made through hash_path."""
    calls: list[Path] = []
    real = hashing.hash_file

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(hashing, "hash_file", counting)
    return lambda: len(calls)


# hash_file


def test_hash_file_is_xxh3_128_of_content(tmp_path: Path) -> None:
    path = write(tmp_path, "a", b"hello")
    assert hash_file(path) == xxhash.xxh3_128(b"hello").hexdigest()
    assert len(hash_file(path)) == 32


def test_same_content_same_hash_one_byte_differs(tmp_path: Path) -> None:
    a = write(tmp_path, "a", b"abc" * 1000)
    b = write(tmp_path, "b", b"abc" * 1000)
    c = write(tmp_path, "c", b"abc" * 999 + b"abd")
    assert hash_file(a) == hash_file(b)
    assert hash_file(a) != hash_file(c)


def test_hash_file_streams_across_chunks(tmp_path: Path) -> None:
    data = os.urandom(hashing.CHUNK_SIZE * 2 + 17)
    assert hash_file(write(tmp_path, "big", data)) == xxhash.xxh3_128(data).hexdigest()


# hash_path on files and directories


def test_hash_path_of_file(tmp_path: Path) -> None:
    path = write(tmp_path, "data/a.csv", b"1,2\n")
    result = hash_path(tmp_path, "data/a.csv", StatCache.empty())
    assert result == FileHash(hash_file(path), 4)


@pytest.mark.parametrize("relpath", ["missing", "missing/x", "file/x"])
def test_missing_path_is_none(tmp_path: Path, relpath: str) -> None:
    write(tmp_path, "file")
    assert hash_path(tmp_path, relpath, StatCache.empty()) is None


def test_directory_size_is_total_of_files(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"12345")
    write(tmp_path, "d/sub/b", b"123")
    result = hash_path(tmp_path, "d", StatCache.empty())
    assert result is not None
    assert result.size == 8


def test_hashes_are_stable_across_calls(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"a")
    write(tmp_path, "d/sub/b", b"b")
    cache = StatCache.empty()
    first = (hash_path(tmp_path, "d", cache), hash_path(tmp_path, "d/a", cache))
    second = (hash_path(tmp_path, "d", cache), hash_path(tmp_path, "d/a", cache))
    fresh = (
        hash_path(tmp_path, "d", StatCache.empty()),
        hash_path(tmp_path, "d/a", StatCache.empty()),
    )
    assert first == second == fresh


def test_trailing_slash_and_dot_segments_are_normalized(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"a")
    assert tree_hash(tmp_path, "d/") == tree_hash(tmp_path, "./d") == tree_hash(tmp_path, "d")


def test_root_itself_can_be_hashed(tmp_path: Path) -> None:
    write(tmp_path, "a", b"a")
    cache = StatCache.empty()
    assert hash_path(tmp_path, ".", cache) is not None
    assert set(cache.new_entries()) == {"a"}


def test_directory_hash_is_not_a_file_hash_of_same_name(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"a")
    assert tree_hash(tmp_path, "d") != tree_hash(tmp_path, "d/a")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: write(d, "new", b"n"), id="add"),
        pytest.param(lambda d: write(d, "sub/new", b"n"), id="add-nested"),
        pytest.param(lambda d: (d / "a").unlink(), id="remove"),
        pytest.param(lambda d: (d / "a").rename(d / "z"), id="rename"),
        pytest.param(lambda d: (d / "sub" / "b").rename(d / "b"), id="move-up"),
        pytest.param(lambda d: write(d, "a", b"A"), id="edit"),
        pytest.param(lambda d: write(d, "sub/b", b"bb"), id="edit-nested"),
    ],
)
def test_directory_hash_changes(tmp_path: Path, change: Callable[[Path], object]) -> None:
    write(tmp_path, "d/a", b"a")
    write(tmp_path, "d/sub/b", b"b")
    before = tree_hash(tmp_path)
    change(tmp_path / "d")
    assert tree_hash(tmp_path) != before


def test_tree_hash_does_not_depend_on_listing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c", "sub/a", "sub/b"):
        write(tmp_path, f"d/{name}", name.encode())
    before = tree_hash(tmp_path)
    real = os.scandir

    @contextlib.contextmanager
    def reversed_scandir(path: str) -> Iterator[list[os.DirEntry[str]]]:
        with real(path) as it:
            yield list(it)[::-1]

    monkeypatch.setattr(os, "scandir", reversed_scandir)
    assert tree_hash(tmp_path) == before


def test_empty_directories_do_not_change_tree_hash(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"a")
    before = tree_hash(tmp_path)
    (tmp_path / "d" / "empty" / "deeper").mkdir(parents=True)
    assert tree_hash(tmp_path) == before


def test_empty_directory_has_a_hash(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    assert hash_path(tmp_path, "d", StatCache.empty()) == FileHash(xxhash.xxh3_128().hexdigest(), 0)


def test_symlinks_are_followed(tmp_path: Path) -> None:
    write(tmp_path, "copy/d/a", b"a")
    write(tmp_path, "copy/d/sub/b", b"b")
    write(tmp_path, "elsewhere/a", b"a")
    write(tmp_path, "elsewhere/sub/b", b"b")
    (tmp_path / "linked" / "d").mkdir(parents=True)
    (tmp_path / "linked" / "d" / "a").symlink_to(tmp_path / "elsewhere" / "a")
    (tmp_path / "linked" / "d" / "sub").symlink_to(tmp_path / "elsewhere" / "sub")
    assert tree_hash(tmp_path, "linked/d") == tree_hash(tmp_path, "copy/d")
    (tmp_path / "top").symlink_to(tmp_path / "elsewhere" / "a")
    assert hash_path(tmp_path, "top", StatCache.empty()) == hash_path(
        tmp_path, "elsewhere/a", StatCache.empty()
    )


def test_dangling_symlinks_and_fifos_do_not_count(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"a")
    before = tree_hash(tmp_path)
    (tmp_path / "d" / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "d" / "fifo")
    assert tree_hash(tmp_path) == before
    assert hash_path(tmp_path, "d/dangling", StatCache.empty()) is None
    assert hash_path(tmp_path, "d/fifo", StatCache.empty()) is None


def test_symlink_loop_raises(tmp_path: Path) -> None:
    write(tmp_path, "d/a", b"a")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    with pytest.raises(OSError) as info:
        hash_path(tmp_path, "d", StatCache.empty())
    assert info.value.errno == errno.ELOOP


def test_sibling_symlinks_into_each_other_are_a_loop(tmp_path: Path) -> None:
    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "b").mkdir()
    (tmp_path / "d" / "a" / "to_b").symlink_to(tmp_path / "d" / "b")
    (tmp_path / "d" / "b" / "to_a").symlink_to(tmp_path / "d" / "a")
    with pytest.raises(OSError):
        hash_path(tmp_path, "d", StatCache.empty())


# hash_path with the stat cache


def test_cache_keys_are_file_relpaths(tmp_path: Path) -> None:
    write(tmp_path, "data/dir/a.csv")
    write(tmp_path, "data/dir/sub/b.csv")
    cache = StatCache.empty()
    hash_path(tmp_path, "data/dir", cache)
    assert set(cache.new_entries()) == {"data/dir/a.csv", "data/dir/sub/b.csv"}


def test_cache_hit_does_not_reread(tmp_path: Path, count_reads: Callable[[], int]) -> None:
    write(tmp_path, "d/a", b"a")
    write(tmp_path, "f", b"f")
    cache = StatCache.empty()
    first = (hash_path(tmp_path, "d", cache), hash_path(tmp_path, "f", cache))
    assert count_reads() == 2
    second = (hash_path(tmp_path, "d", cache), hash_path(tmp_path, "f", cache))
    assert count_reads() == 2
    assert first == second


def test_racy_file_is_rehashed(tmp_path: Path, count_reads: Callable[[], int]) -> None:
    (tmp_path / "f").write_bytes(b"fresh")  # mtime is now: within the racy window
    cache = StatCache.empty()
    hash_path(tmp_path, "f", cache)
    hash_path(tmp_path, "f", cache)
    assert count_reads() == 2


def test_racy_edit_with_unchanged_stat_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"one")
    frozen = os.stat(path)
    cache = StatCache.empty()
    first = hash_path(tmp_path, "f", cache)
    path.write_bytes(b"two")
    # What a coarse timestamp clock shows after an edit within the same tick: an unchanged stat.
    monkeypatch.setattr(os, "stat", lambda *_args, **_kwargs: frozen)
    second = hash_path(tmp_path, "f", cache)
    assert first is not None and second is not None
    assert second.hash == xxhash.xxh3_128(b"two").hexdigest() != first.hash


def test_modified_file_is_rehashed(tmp_path: Path) -> None:
    path = write(tmp_path, "f", b"one")
    cache = StatCache.empty()
    first = hash_path(tmp_path, "f", cache)
    path.write_bytes(b"two!")
    os.utime(path, ns=(OLD_NS + 5, OLD_NS + 5))
    second = hash_path(tmp_path, "f", cache)
    assert first is not None and second is not None
    assert second == FileHash(hash_file(path), 4) != first


def test_hash_records_time_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "f", b"f")
    cache = StatCache.empty()
    real = hashing.hash_file
    before = time.time_ns()

    def slow(p: Path) -> str:
        time.sleep(0.2)
        return real(p)

    monkeypatch.setattr(hashing, "hash_file", slow)
    hash_path(tmp_path, "f", cache)
    entry = cache.new_entries()["f"]
    assert before <= entry.hashed_at_ns < before + 200_000_000
    assert entry.hash == hash_file(path)


# StatCache


def test_get_requires_matching_stat() -> None:
    cache = StatCache.empty()
    cache.put("f", fake_stat(), "h", hashed_at_ns=OLD_NS + RACY_WINDOW_NS)
    assert cache.get("f", fake_stat()) == "h"
    assert cache.get("g", fake_stat()) is None
    assert cache.get("f", fake_stat(size=4)) is None
    assert cache.get("f", fake_stat(mtime_ns=OLD_NS + 1)) is None
    assert cache.get("f", fake_stat(ctime_ns=OLD_NS + 1)) is None
    assert cache.get("f", fake_stat(ino=8)) is None


def test_get_distrusts_racy_entries_until_put_refreshes() -> None:
    cache = StatCache.empty()
    cache.put("f", fake_stat(), "h", hashed_at_ns=OLD_NS + RACY_WINDOW_NS - 1)
    assert cache.get("f", fake_stat()) is None
    cache.put("f", fake_stat(), "h", hashed_at_ns=OLD_NS + RACY_WINDOW_NS)
    assert cache.get("f", fake_stat()) == "h"


def test_put_defaults_hashed_at_to_now() -> None:
    cache = StatCache.empty()
    before = time.time_ns()
    cache.put("f", fake_stat(), "h")
    assert before <= cache.new_entries()["f"].hashed_at_ns <= time.time_ns()


def test_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "stat.json"
    cache = StatCache.load(path)
    cache.put("f", fake_stat(), "h", hashed_at_ns=OLD_NS * 2)
    cache.save()
    data = json.loads(path.read_text())
    assert data["version"] == hashing.CACHE_VERSION
    loaded = StatCache.load(path)
    assert loaded.get("f", fake_stat()) == "h"
    assert loaded.new_entries() == {}


def test_save_without_changes_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "stat.json"
    StatCache.load(path).save()
    assert not path.exists()


def test_save_writes_only_when_changed_since_last_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[Path] = []
    monkeypatch.setattr(hashing, "atomic_write", lambda path, data: writes.append(path))
    cache = StatCache.load(tmp_path / "stat.json")
    cache.put("f", fake_stat(), "h")
    cache.save()
    cache.save()
    assert len(writes) == 1
    cache.merge({"g": cache.new_entries()["f"]})
    cache.save()
    assert len(writes) == 2


def test_failed_save_is_retried_by_the_next_save(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    cache = StatCache.load(blocker / "stat.json")
    cache.put("f", fake_stat(), "h", hashed_at_ns=OLD_NS * 2)
    cache.save()
    blocker.unlink()
    cache.save()
    assert StatCache.load(blocker / "stat.json").get("f", fake_stat()) == "h"


def test_empty_cache_save_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cache = StatCache.empty()
    cache.put("f", fake_stat(), "h")
    cache.save()
    assert list(tmp_path.iterdir()) == []


def test_failed_save_does_not_raise(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    cache = StatCache.load(tmp_path / "blocker" / "stat.json")
    cache.put("f", fake_stat(), "h")
    cache.save()
    assert (tmp_path / "blocker").read_text().startswith("a file")


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"entries": {}}',
        b'{"version": 999, "entries": {"f": "3 1000000000000000000 1000000000000000000 7 h 2"}}',
        b'{"version": 1, "entries": []}',
    ],
)
def test_load_of_bad_file_is_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "stat.json"
    path.write_bytes(content)
    cache = StatCache.load(path)
    assert cache.get("f", fake_stat()) is None
    cache.put("f", fake_stat(), "h", hashed_at_ns=OLD_NS * 2)
    cache.save()
    assert StatCache.load(path).get("f", fake_stat()) == "h"


def test_load_of_missing_file_or_directory_is_empty(tmp_path: Path) -> None:
    assert StatCache.load(tmp_path / "missing.json").get("f", fake_stat()) is None
    assert StatCache.load(tmp_path).get("f", fake_stat()) is None


GOOD_ROW = f"3 {OLD_NS} {OLD_NS} 7 h {OLD_NS * 2}"


@pytest.mark.parametrize(
    "row",
    [
        f"3 {OLD_NS} {OLD_NS} 7 h",
        f"3 {OLD_NS} {OLD_NS} 7 h {OLD_NS * 2} extra",
        f"x {OLD_NS} {OLD_NS} 7 h {OLD_NS * 2}",
        f"3 {OLD_NS} {OLD_NS} 7 h 1.5",
        [3, OLD_NS, OLD_NS, 7, "h", OLD_NS * 2],
        None,
    ],
)
def test_malformed_rows_are_misses(tmp_path: Path, row: object) -> None:
    path = tmp_path / "stat.json"
    path.write_text(json.dumps({"version": 1, "entries": {"bad": row, "good": GOOD_ROW}}))
    cache = StatCache.load(path)
    assert cache.get("bad", fake_stat()) is None
    assert cache.get("good", fake_stat()) == "h"


def test_merge_worker_entries_into_parent(tmp_path: Path) -> None:
    path = tmp_path / "stat.json"
    write(tmp_path, "d/a", b"a")
    worker = StatCache.load(path)
    hash_path(tmp_path, "d", worker)
    entries = worker.new_entries()
    assert set(entries) == {"d/a"}
    assert isinstance(entries["d/a"], StatEntry)

    parent = StatCache.load(path)
    parent.merge(entries)
    st = os.stat(tmp_path / "d" / "a")
    assert parent.get("d/a", st) == hash_file(tmp_path / "d" / "a")
    parent.save()
    assert StatCache.load(path).get("d/a", st) == hash_file(tmp_path / "d" / "a")


def test_new_entries_is_a_snapshot() -> None:
    cache = StatCache.empty()
    cache.put("f", fake_stat(), "h")
    snapshot = cache.new_entries()
    cache.put("g", fake_stat(), "h")
    assert set(snapshot) == {"f"}
    assert set(cache.new_entries()) == {"f", "g"}


# the tree hash depends only on the set of (path, content)

_segment = st.sampled_from(["a", "b", "c", "a.b", "B", "é", "d d"])
_relpath = st.lists(_segment, min_size=1, max_size=3).map("/".join)
_trees = st.dictionaries(_relpath, st.binary(max_size=20), max_size=6).filter(
    lambda t: not any(o.startswith(p + "/") for p in t for o in t)
)


def _tree_hash_of(files: dict[str, bytes], order: list[str], extra_dirs: list[str]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "d").mkdir()
        for relpath in order:
            write(root / "d", relpath, files[relpath])
        for relpath in extra_dirs:
            (root / "d" / relpath / "empty").mkdir(parents=True, exist_ok=True)
        return tree_hash(root)


@settings(max_examples=60, deadline=None)
@given(one=_trees, other=_trees, data=st.data())
def test_tree_hash_depends_only_on_paths_and_contents(
    one: dict[str, bytes], other: dict[str, bytes], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(sorted(one)))
    dirs = [p.rpartition("/")[0] for p in one if "/" in p]
    first = _tree_hash_of(one, sorted(one), [])
    assert _tree_hash_of(one, list(shuffled), dirs) == first
    assert (_tree_hash_of(other, sorted(other), []) == first) == (other == one)

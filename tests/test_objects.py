"""The object cache: atomic, read-only, verified objects; manifests for directories."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fastpipe.errors import UnsafeInputError
from fastpipe.hashing import StatCache, hash_file, hash_path, hash_tree_files
from fastpipe.links import LinkMode
from fastpipe.objects import (
    TEMP_PREFIX,
    CorruptObjectError,
    ObjectKind,
    ObjectStore,
    is_read_only,
    manifest_bytes,
    parse_manifest,
)
from fastpipe.restore import Restorer


def _store_file(store: ObjectStore, path: Path) -> str:
    digest = hash_file(path)
    store.store_file(path, digest)
    return digest


def test_file_object_is_named_by_its_hash_read_only_and_sharded(tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"weights" * 1000)
    store = ObjectStore(tmp_path / "cache")
    digest = _store_file(store, src)
    obj = tmp_path / "cache" / "files" / "xxh3" / digest[:2] / digest[2:]
    assert obj.read_bytes() == src.read_bytes()
    assert is_read_only(obj)
    assert store.kind(digest) is ObjectKind.FILE
    assert not [p for p in obj.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_existing_object_is_never_rewritten(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_bytes(b"same")
    store = ObjectStore(tmp_path / "cache")
    digest = _store_file(store, src)
    inode = store.path(digest).stat().st_ino
    assert store.store_file(src, digest) is False
    assert store.path(digest).stat().st_ino == inode


def test_directory_manifest_lists_files_with_exec_bit_and_ignores_empty_dirs(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "empty").mkdir()
    (out / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (out / "sub" / "run.sh").chmod(0o755)
    (out / "a.txt").write_text("a")
    found = hash_tree_files(tmp_path, "out", StatCache.empty())
    assert found is not None
    tree_hash, files = found
    assert tree_hash == hash_path(tmp_path, "out", StatCache.empty())
    store = ObjectStore(tmp_path / "cache")
    store.store_tree(out, files, tree_hash.hash)
    assert store.kind(tree_hash.hash) is ObjectKind.TREE
    doc = json.loads(store.path(tree_hash.hash).read_bytes())
    assert doc["schema"] == 1
    assert [row[0] for row in doc["files"]] == ["a.txt", "sub/run.sh"]
    assert [row[3] for row in doc["files"]] == [False, True]


def test_corrupt_file_object_is_detected(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_bytes(b"good")
    store = ObjectStore(tmp_path / "cache")
    digest = _store_file(store, src)
    obj = store.path(digest)
    obj.chmod(0o644)
    obj.write_bytes(b"evil")
    with pytest.raises(CorruptObjectError):
        store.kind(digest)


def test_restore_never_places_a_corrupt_object(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a").write_bytes(b"good")
    store = ObjectStore(tmp_path / "cache", LinkMode.COPY)
    digest = _store_file(store, root / "a")
    obj = store.path(digest)
    obj.chmod(0o644)
    obj.write_bytes(b"evil")
    (root / "a").unlink()
    with pytest.raises(CorruptObjectError):
        Restorer(store, root, StatCache.empty()).out("a", digest)
    assert not (root / "a").exists()
    assert os.listdir(root) == []  # no temp file left either


def test_manifest_with_wrong_hash_is_not_a_manifest(tmp_path: Path) -> None:
    data = manifest_bytes(())
    assert parse_manifest(data, "0" * 32) is None


def test_manifest_escaping_the_directory_is_refused(tmp_path: Path) -> None:
    from fastpipe.hashing import TreeFile, tree_digest

    files = (TreeFile("../../etc/evil", "a" * 32, 1, False),)
    digest = tree_digest([("../../etc/evil", "a" * 32)])
    with pytest.raises(UnsafeInputError, match="leaves the project root"):
        parse_manifest(manifest_bytes(files), digest)


def test_malformed_hash_is_refused(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    with pytest.raises(UnsafeInputError, match="32-hex-digit"):
        store.path("../../../etc/passwd")


def test_restore_tree_is_byte_identical_and_removes_extra_files(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    out = root / "data"
    out.mkdir(parents=True)
    for i in range(20):
        (out / f"f{i}.txt").write_text(f"file {i}\n")
    (out / "tool").write_text("#!/bin/sh\n")
    (out / "tool").chmod(0o755)
    found = hash_tree_files(root, "data", StatCache.empty())
    assert found is not None
    store = ObjectStore(tmp_path / "cache")
    store.store_tree(out, found[1], found[0].hash)
    (out / "f3.txt").unlink()
    (out / "f4.txt").write_text("edited")  # its content is not in the cache
    (out / "extra.txt").write_text("extra")
    kept = Restorer(store, root, StatCache.empty(), force=False).out("data", found[0].hash)
    assert sorted(kept.kept) == ["data/extra.txt", "data/f4.txt"]
    done = Restorer(store, root, StatCache.empty()).out("data", found[0].hash)
    assert done.removed == 1
    assert hash_path(root, "data", StatCache.empty()) == found[0]
    assert os.stat(out / "tool").st_mode & 0o111


def test_restore_refuses_a_symlink_leading_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "data").symlink_to(outside)
    src = tmp_path / "x"
    src.write_bytes(b"x")
    store = ObjectStore(tmp_path / "cache")
    digest = _store_file(store, src)
    with pytest.raises(UnsafeInputError, match="outside the project root"):
        Restorer(store, root, StatCache.empty()).out("data/x", digest)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("mode", [LinkMode.HARDLINK, LinkMode.SYMLINK])
def test_linked_workspace_files_are_read_only(tmp_path: Path, mode: LinkMode) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    src = tmp_path / "x"
    src.write_bytes(b"payload")
    store = ObjectStore(tmp_path / "cache", mode)
    digest = _store_file(store, src)
    Restorer(store, root, StatCache.empty()).out("x", digest)
    assert (root / "x").read_bytes() == b"payload"
    assert is_read_only(root / "x")
    assert (root / "x").is_symlink() is (mode is LinkMode.SYMLINK)


def _writer(cache: str, payload: bytes, n: int) -> None:
    store = ObjectStore(Path(cache))
    src = Path(cache).parent / f"src-{os.getpid()}"
    src.write_bytes(payload)
    digest = hash_file(src)
    for _ in range(n):
        store.store_file(src, digest)


def test_concurrent_writers_from_several_processes_share_one_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    payload = os.urandom(1 << 20)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(cache), payload, 20)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ObjectStore(cache)
    objects = list(store.all_objects())
    assert len(objects) == 1
    digest, path = objects[0]
    assert path.read_bytes() == payload
    assert store.kind(digest) is ObjectKind.FILE


def test_sigkill_while_storing_leaves_no_torn_object(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    src = tmp_path / "big"
    with open(src, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    digest = hash_file(src)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from fastpipe.links import LinkMode
        from fastpipe.objects import ObjectStore
        import fastpipe.links as links, os, sys
        def slow(src_fd, dst_fd, size):
            while chunk := os.read(src_fd, 1 << 16):
                os.write(dst_fd, chunk)
                sys.stdout.write("."); sys.stdout.flush()
        prims = links.Primitives(copy_range=slow)
        ObjectStore(Path({str(cache)!r}), LinkMode.COPY, prims).store_file(
            Path({str(src)!r}), {digest!r})
    """)
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.read(1)  # it is writing
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = ObjectStore(cache)
        for found, path in store.all_objects():
            if found:  # a published object is always whole
                assert hash_file(path) == digest


def test_sigkill_while_restoring_leaves_the_old_file_or_the_new(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    src = tmp_path / "big"
    with open(src, "wb") as f:
        for _ in range(32):
            f.write(os.urandom(1 << 20))
    store = ObjectStore(tmp_path / "cache", LinkMode.COPY)
    digest = _store_file(store, src)
    (root / "out.bin").write_bytes(b"old content")
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        import fastpipe.links as links
        from fastpipe.hashing import StatCache
        from fastpipe.links import LinkMode
        from fastpipe.objects import ObjectStore
        from fastpipe.restore import Restorer
        def slow(src_fd, dst_fd, size):
            while chunk := os.read(src_fd, 1 << 16):
                os.write(dst_fd, chunk)
                sys.stdout.write("."); sys.stdout.flush()
        prims = links.Primitives(copy_range=slow)
        store = ObjectStore(Path({str(store.root)!r}), LinkMode.COPY, prims)
        Restorer(store, Path({str(root)!r}), StatCache.empty()).out("out.bin", {digest!r})
    """)
    for delay in (0.05, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.read(1)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = (root / "out.bin").read_bytes()
        assert data == b"old content" or hash_file(root / "out.bin") == digest
    Restorer(store, root, StatCache.empty()).out("out.bin", digest)
    assert hash_file(root / "out.bin") == digest


def test_yaml_tags_in_a_lock_are_never_executed(tmp_path: Path) -> None:
    from fastpipe.lockfile import read_lock

    marker = tmp_path / "executed"
    lock = tmp_path / "s.lock"
    lock.write_text(
        "schema: 1\nstage: s\ncode: !!python/object/apply:os.system "
        f"['touch {marker}']\nparams: {{}}\ndeps: {{}}\nouts: {{}}\n"
    )
    found = read_lock(lock)
    assert found.entry is None and found.problem
    assert not marker.exists()


@pytest.mark.parametrize(
    "doc",
    [
        b"{not json",
        b'{"schema": 2, "files": []}',
        b'{"schema": 1, "files": {}}',
        b'{"schema": 1, "files": [[1, 2]]}',
        b'{"schema": 1, "files": [["a", "zz", 1, false]]}',
    ],
)
def test_malformed_manifests_are_not_manifests(doc: bytes) -> None:
    assert parse_manifest(doc, "0" * 32) is None


def test_symlink_mode_stores_a_directory_and_links_its_files(tmp_path: Path) -> None:
    from fastpipe.outstore import store_output

    root = tmp_path / "proj"
    (root / "out").mkdir(parents=True)
    (root / "out" / "a.txt").write_text("a")
    found = hash_tree_files(root, "out", StatCache.empty())
    assert found is not None
    cache = tmp_path / "cache"
    store_output(str(cache), "symlink", root, "out", found[0].hash, found)
    assert (root / "out" / "a.txt").is_symlink()
    assert (root / "out" / "a.txt").read_text() == "a"
    assert hash_path(root, "out", StatCache.empty()) == found[0]
    assert ObjectStore(cache).kind(found[0].hash) is ObjectKind.TREE

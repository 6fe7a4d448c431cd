"""import-dvc's object copy: from DVC's md5 cache, verified, directories included."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastpipe.export.dvccache import dvc_cache, import_objects
from fastpipe.export.dvcfiles import DvcEntry, DvcStage
from fastpipe.hashing import FileHash, StatCache, hash_path
from fastpipe.lockfile import LockEntry
from fastpipe.objects import ObjectKind, ObjectStore
from fastpipe.restore import Restorer


def _put(root: Path, data: bytes) -> str:
    md5 = hashlib.md5(data).hexdigest()
    path = dvc_cache(root) / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return md5


def _stage(outs: dict[str, str]) -> DvcStage:
    return DvcStage(name="s", deps=(), outs=tuple(DvcEntry(p, m) for p, m in outs.items()))


def _entry(outs: dict[str, FileHash]) -> LockEntry:
    return LockEntry(stage="s", code={}, params={}, deps={}, outs=outs)


def test_file_and_directory_objects_come_from_dvc_cache(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "dir" / "sub").mkdir(parents=True)
    (source / "model.bin").write_bytes(b"model")
    (source / "dir" / "a.txt").write_bytes(b"a")
    (source / "dir" / "sub" / "b.txt").write_bytes(b"b")
    hashes = {p: hash_path(source, p, StatCache.empty()) for p in ("model.bin", "dir")}
    root = tmp_path / "proj"
    root.mkdir()  # the workspace has none of the files: they can only come from DVC's cache
    model_md5 = _put(root, b"model")
    rows = [{"md5": _put(root, b"a"), "relpath": "a.txt"}]
    rows.append({"md5": _put(root, b"b"), "relpath": "sub/b.txt"})
    listing = json.dumps(rows, sort_keys=True).encode()
    dir_md5 = hashlib.md5(listing).hexdigest() + ".dir"
    (dvc_cache(root) / dir_md5[:2]).mkdir(parents=True, exist_ok=True)
    (dvc_cache(root) / dir_md5[:2] / dir_md5[2:]).write_bytes(listing)
    store = ObjectStore(tmp_path / "cache")
    outs = {p: h for p, h in hashes.items() if h is not None}
    stored = import_objects(
        root, store, _entry(outs), _stage({"model.bin": model_md5, "dir": dir_md5}), lambda _: True
    )
    assert stored == 2
    assert store.kind(outs["dir"].hash) is ObjectKind.TREE
    Restorer(store, root, StatCache.empty()).out("dir", outs["dir"].hash)
    assert (root / "dir" / "sub" / "b.txt").read_bytes() == b"b"


def test_a_tampered_dvc_object_is_not_imported(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    md5 = _put(root, b"model")
    (dvc_cache(root) / md5[:2] / md5[2:]).write_bytes(b"evil!")
    (tmp_path / "m").write_bytes(b"model")
    found = hash_path(tmp_path, "m", StatCache.empty())
    assert found is not None
    store = ObjectStore(tmp_path / "cache")
    stored = import_objects(root, store, _entry({"m": found}), _stage({"m": md5}), lambda _: True)
    assert stored == 0 and not store.has(found.hash)


def test_a_tampered_dir_listing_falls_back_to_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "a.txt").write_bytes(b"a")
    found = hash_path(root, "dir", StatCache.empty())
    assert found is not None
    rows = [{"md5": _put(root, b"a"), "relpath": "a.txt"}, {"md5": "f" * 32, "relpath": "x"}]
    listing = json.dumps(rows, sort_keys=True).encode()
    dir_md5 = hashlib.md5(listing).hexdigest() + ".dir"
    (dvc_cache(root) / dir_md5[:2]).mkdir(parents=True, exist_ok=True)
    (dvc_cache(root) / dir_md5[:2] / dir_md5[2:]).write_bytes(listing)
    store = ObjectStore(tmp_path / "cache")
    stage = _stage({"dir": dir_md5})
    assert import_objects(root, store, _entry({"dir": found}), stage, lambda _: True) == 1
    assert store.kind(found.hash) is ObjectKind.TREE
    assert import_objects(root, store, _entry({"dir": found}), stage, lambda _: True) == 0


def test_uncached_outs_are_not_imported(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "m.json").write_bytes(b"{}")
    found = hash_path(root, "m.json", StatCache.empty())
    assert found is not None
    store = ObjectStore(tmp_path / "cache")
    entry = _entry({"m.json": found})
    assert import_objects(root, store, entry, _stage({}), lambda _: False) == 0
    assert import_objects(root, store, entry, _stage({}), lambda _: True) == 1

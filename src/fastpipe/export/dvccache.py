"""Objects of adopted outs copied from DVC's cache, so `fastpipe checkout` works at once.

DVC 3 keeps a file under `.dvc/cache/files/md5/<2>/<30>` named by its md5, and a directory
as `<2>/<30>.dir`: JSON `[{"md5", "relpath"}, ...]`. Every object read is verified (its md5,
and the xxh3 the fastpipe lock records) before it is stored; where DVC's cache lacks an object
the workspace file, which matched dvc.lock when the stage was adopted, is stored instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from fastpipe import safepath
from fastpipe.export.dvcfiles import DvcStage
from fastpipe.export.md5 import DIR_SUFFIX, file_md5
from fastpipe.hashing import FileHash, StatCache, TreeFile, hash_file, hash_tree_files, tree_digest
from fastpipe.lockfile import LockEntry
from fastpipe.objects import ObjectStore

_MD5_HEX = frozenset("0123456789abcdef")


def dvc_cache(root: Path) -> Path:
    """Where DVC 3 keeps md5-named objects in the project at `root` (the default cache)."""
    return root / ".dvc" / "cache" / "files" / "md5"


def import_objects(
    root: Path,
    store: ObjectStore,
    entry: LockEntry,
    dvc: DvcStage,
    is_cached: Callable[[str], bool],
) -> int:
    """Store the cached outs of the adopted `entry` (from DVC's cache when it has them)."""
    md5s = {e.path: e.md5 for e in dvc.outs if e.md5}
    stored = 0
    for path, found in entry.outs.items():
        if not is_cached(path) or store.has(found.hash):
            continue
        md5 = md5s.get(path)
        if (md5 and _from_dvc(root, store, found, md5)) or _from_workspace(
            root, store, path, found
        ):
            stored += 1
    return stored


def _dvc_object(root: Path, md5: str) -> Path | None:
    plain = md5.removesuffix(DIR_SUFFIX)
    if len(plain) != 32 or not _MD5_HEX.issuperset(plain):
        return None
    path = dvc_cache(root) / md5[:2] / md5[2:]
    return path if path.is_file() else None


def _from_dvc(root: Path, store: ObjectStore, found: FileHash, md5: str) -> bool:
    obj = _dvc_object(root, md5)
    if obj is None:
        return False
    if not md5.endswith(DIR_SUFFIX):
        if file_md5(obj) != md5 or hash_file(obj) != found.hash:
            return False
        store.store_file(obj, found.hash)
        return True
    files = _dvc_tree(root, obj)
    if files is None or tree_digest((f.rel, f.hash) for f, _ in files) != found.hash:
        return False
    for f, path in files:
        store.store_file(path, f.hash)
    store.publish_bytes(found.hash, _manifest(tuple(f for f, _ in files)))
    return True


def _dvc_tree(root: Path, obj: Path) -> list[tuple[TreeFile, Path]] | None:
    """The files of a DVC `.dir` object with their DVC objects, each verified; None if not."""
    try:
        rows = json.loads(obj.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(rows, list):
        return None
    found: list[tuple[TreeFile, Path]] = []
    for row in rows:
        if not isinstance(row, dict):
            return None
        rel, md5 = row.get("relpath"), row.get("md5")
        if not isinstance(rel, str) or not isinstance(md5, str):
            return None
        safepath.check_relpath(rel, f"DVC object {obj.name}")
        path = _dvc_object(root, md5)
        if path is None or file_md5(path) != md5:
            return None
        executable = bool(os.stat(path).st_mode & 0o111)
        found.append((TreeFile(rel, hash_file(path), path.stat().st_size, executable), path))
    return found


def _from_workspace(root: Path, store: ObjectStore, path: str, found: FileHash) -> bool:
    target = root / path
    if target.is_dir():
        tree = hash_tree_files(root, path, StatCache.empty())
        if tree is None or tree[0].hash != found.hash:
            return False
        store.store_tree(target, tree[1], found.hash)
        return True
    if not target.is_file() or hash_file(target) != found.hash:
        return False
    store.store_file(target, found.hash)
    return True


def _manifest(files: tuple[TreeFile, ...]) -> bytes:
    from fastpipe.objects import manifest_bytes

    return manifest_bytes(files)

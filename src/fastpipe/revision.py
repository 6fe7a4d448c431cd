"""An out as it was at a git revision: `fastpipe get` and `fastpipe.open(path, rev=)`.

The locks at the revision are read from git's objects (gitobjects.GitObjects: one
`git cat-file --batch`, no checkout, no clone) and the content comes from the object cache;
a path git itself tracks at the revision comes from git. Locks and manifests are untrusted:
paths and hashes are checked, and nothing is written outside the `-o` target.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import xxhash

from fastpipe import discovery, safepath
from fastpipe.errors import CacheError, FastpipeError, RevisionError
from fastpipe.gitobjects import GitObjects
from fastpipe.hashing import FileHash, StatCache, TreeFile, hash_file
from fastpipe.layout import STATE_DIR
from fastpipe.lockfile import LockEntry, lock_from_bytes
from fastpipe.objects import CorruptObjectError, ObjectStore
from fastpipe.restore import Restorer
from fastpipe.store import object_store, read_stage_lock


@dataclass(frozen=True)
class Located:
    """Where a path's content is at a revision: in git, or a cache object of a stage's out."""

    path: str
    git_bytes: bytes | None = None
    stage: str = ""
    digest: str = ""  # the object: the out's, or a file's inside a directory out
    is_dir: bool = False


@dataclass(frozen=True)
class GetResult:
    """What `get` wrote."""

    path: str
    rev: str
    target: Path
    source: str  # "git" or "cache"


def locks_at(git: GitObjects, rev: str) -> list[LockEntry]:
    """Every stage lock at `rev` (unreadable ones skipped), its paths and hashes checked."""
    listing = git.entries(rev, f"{STATE_DIR}/stages") or []
    found: list[LockEntry] = []
    for item in listing:
        if item.is_dir or not item.name.endswith(".lock"):
            continue
        lock_path = f"{STATE_DIR}/stages/{item.name}"
        data = git.read(rev, lock_path)
        if data is None:
            continue
        entry = lock_from_bytes(Path(lock_path), data).entry
        if entry is None:
            continue
        safepath.check_outs(entry.outs, f"lock of stage '{entry.stage}' at {rev}")
        found.append(entry)
    return found


def locate(root: Path, store: ObjectStore, path: str, rev: str | None) -> Located:
    """Where `path` (relative to the root) is at `rev` (None: the workspace's locks)."""
    path = _clean(path)
    if rev is None:
        layout = discovery.Project(root, discovery.ProjectConfig()).layout
        names = sorted(p.stem for p in layout.stages.glob("*.lock"))
        entries = [e for n in names if (e := read_stage_lock(layout, n).entry) is not None]
        return _in_outs(store, entries, path, "the workspace")
    with GitObjects(root) as git:
        git.commit(rev)  # RevisionError for an unknown revision
        data = git.read(rev, path)
        if data is not None:
            return Located(path, git_bytes=data)
        return _in_outs(store, locks_at(git, rev), path, f"revision '{rev}'")


def _in_outs(store: ObjectStore, entries: list[LockEntry], path: str, where: str) -> Located:
    for entry in entries:
        for out, h in entry.outs.items():
            if path == out:
                return Located(path, stage=entry.stage, digest=h.hash, is_dir=_is_tree(store, h))
            if path.startswith(out + "/"):
                inner = path[len(out) + 1 :]
                files = _tree_or_missing(store, entry.stage, out, h.hash)
                for f in files:
                    if f.rel == inner:
                        return Located(path, stage=entry.stage, digest=f.hash)
    raise RevisionError(f"'{path}' is no out of any stage (nor tracked by git) at {where}")


def _is_tree(store: ObjectStore, h: FileHash) -> bool:
    try:
        return store.tree(h.hash) is not None
    except FileNotFoundError:
        return False


def _tree_or_missing(store: ObjectStore, stage: str, out: str, digest: str) -> tuple[TreeFile, ...]:
    try:
        files = store.tree(digest)
    except FileNotFoundError:
        raise _missing(stage, out, digest) from None
    return files or ()


def _missing(stage: str, path: str, digest: str) -> CacheError:
    return CacheError(
        f"'{path}' (stage '{stage}') is not in the cache: object {digest} is missing; "
        "run the stage at that revision, or fetch it from a remote"
    )


def cached_bytes_at(root: Path, git: GitObjects, rev: str, path: str) -> bytes | None:
    """The bytes of the out (or file inside a directory out) `path` as the locks at `rev`
    record it, from the cache; None when it is no out there or its object is not cached.

    `git` is the caller's reader (one cat-file process for all the files of a command).
    """
    project = discovery.load_project(root)
    store = object_store(project)
    try:
        found = _in_outs(store, locks_at(git, rev), _clean(path), f"revision '{rev}'")
    except (RevisionError, CacheError):
        return None
    if found.is_dir:
        return None
    obj = store.path(found.digest)
    try:
        data = obj.read_bytes()
    except OSError:
        return None
    if xxhash.xxh3_128_hexdigest(data) != found.digest:
        return None  # a corrupt object is never used; checkout or a restore will drop it
    return data


def open_at(root: Path, path: str, rev: str | None) -> BinaryIO:
    """`path` at `rev` as a binary file object (None: the workspace file, else its cached out)."""
    project = discovery.load_project(root)
    store = object_store(project)
    if rev is None:
        target = safepath.inside(project.root, _clean(path), f"path '{path}'")
        if target.is_file():
            return open(target, "rb")
    found = locate(project.root, store, path, rev)
    if found.git_bytes is not None:
        return io.BytesIO(found.git_bytes)
    if found.is_dir:
        raise FastpipeError(f"'{path}' is a directory out; open a file inside it, or use get")
    obj = store.path(found.digest)
    if not obj.is_file():
        _from_remote(project, store, found.digest)
    if not obj.is_file():
        raise _missing(found.stage, path, found.digest)
    if hash_file(obj) != found.digest:
        store.remove(found.digest)
        raise CacheError(f"cache object {found.digest} ({obj}) is corrupt: removed it")
    return open(obj, "rb")


def _from_remote(project: discovery.Project, store: ObjectStore, digest: str) -> None:
    """Fetch an object the cache lacks (and, for a directory, the files it lists) from the
    remote in use, when the project has one: `get --rev` falls back to the default remote."""
    if project.config.remotes is None and not os.environ.get("FASTPIPE_REMOTE"):
        return
    from fastpipe import objectkeys, sync

    sync.fetch_objects(project, [objectkeys.file_key(digest)])
    try:
        files = store.tree(digest)
    except (FileNotFoundError, CorruptObjectError):
        return
    if files:
        sync.fetch_objects(project, [objectkeys.file_key(f.hash) for f in files])


def get(root: Path, path: str, rev: str, out: Path | None, *, force: bool, cwd: Path) -> GetResult:
    """Write `path` as it was at `rev` to `out` (default: its file name in `cwd`)."""
    project = discovery.load_project(root)
    store = object_store(project)
    found = locate(project.root, store, path, rev)
    target = out if out is not None else cwd / PurePosixPath(found.path).name
    if os.path.lexists(target) and not force:
        raise FastpipeError(f"'{target}' exists; --force overwrites it")
    if found.git_bytes is not None:
        _write_file(target, found.git_bytes)
        return GetResult(found.path, rev, target, "git")
    if not store.has(found.digest):
        _from_remote(project, store, found.digest)
    if not store.has(found.digest):
        raise _missing(found.stage, found.path, found.digest)
    if os.path.isdir(target) and not os.path.islink(target) and not found.is_dir:
        shutil.rmtree(target)
    parent = target.parent.resolve()
    parent.mkdir(parents=True, exist_ok=True)
    restorer = Restorer(store, parent, StatCache.empty(), force=True)
    try:
        restorer.out(target.name, found.digest)
    except CorruptObjectError as exc:
        store.remove(exc.digest)
        raise CacheError(f"{exc}: removed it; '{path}' cannot be written") from None
    except FileNotFoundError:
        raise _missing(found.stage, found.path, found.digest) from None
    return GetResult(found.path, rev, target, "cache")


def _write_file(target: Path, data: bytes) -> None:
    from fastpipe.atomicfile import atomic_write

    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    atomic_write(target, data)


def _clean(path: str) -> str:
    clean = PurePosixPath(path.replace(os.sep, "/")).as_posix().strip("/")
    if path.startswith("/"):
        raise FastpipeError(f"'{path}': give the path relative to the project root")
    return safepath.check_relpath(clean, "path")

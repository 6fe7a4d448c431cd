"""push / fetch / pull of the selected stages' cached outs (and run-cache entries) to a remote.

Which objects a stage has is read from its lock (the hashes of its cached outs) and, for a
directory out, from its manifest object in the cache (the hashes it lists). `pull` restores the
outs from the cache afterwards, each file through a temp file and a rename.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from fastpipe import objectkeys, transfer
from fastpipe.discovery import Project
from fastpipe.errors import UnknownStageError
from fastpipe.hashing import StatCache, hash_file, hash_path
from fastpipe.layout import Layout
from fastpipe.lockfile import LockEntry, read_lock
from fastpipe.remotes import Remote, open_remote, select
from fastpipe.transfer import TransferResult

CACHE_DIR_ENV = "FASTPIPE_CACHE_DIR"
Cached = Callable[[str, str], bool]  # (stage, path) -> whether that out is in the output cache


@dataclass(frozen=True)
class Restored:
    """What `pull`'s checkout did: outs written, outs already in place, outs it could not."""

    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    """A push, fetch or pull: the transfer, and for pull the checkout."""

    transfer: TransferResult
    restored: Restored | None = None


def cache_dir(root: Path) -> Path:
    """The output cache of a project.

    # replaced by the output cache's own setting ([tool.fastpipe] cache_dir) at merge
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else root / path
    return Layout(root).cache


def selected_locks(root: Path, stages: Sequence[str]) -> dict[str, LockEntry]:
    """The locks of `stages` (default: every stage with a lock), by stage name."""
    folder = Layout(root).stages
    known = sorted(p.stem for p in folder.glob("*.lock")) if folder.is_dir() else []
    names = list(dict.fromkeys(stages)) or known
    locks: dict[str, LockEntry] = {}
    for name in names:
        if name not in known:
            raise UnknownStageError(name, known)
        entry = read_lock(Layout(root).lock_path(name)).entry
        if entry is not None:
            locks[name] = entry
    return locks


def out_hashes(locks: dict[str, LockEntry], cached: Cached | None) -> dict[tuple[str, str], str]:
    """(stage, out path) -> the out's hash in its lock, for the cached outs."""
    found: dict[tuple[str, str], str] = {}
    for stage, entry in locks.items():
        for path, digest in entry.outs.items():
            if (cached is None or cached(stage, path)) and objectkeys.HEX128.match(digest.hash):
                found[(stage, path)] = digest.hash
    return found


def manifest_rows(path: Path) -> list[tuple[str, str]] | None:
    """(relpath, hash) of each file a directory manifest object lists; None if not a manifest.

    Relative paths that could leave the directory (absolute, `..`) and bad hashes are dropped.
    """
    if not objectkeys.looks_like_manifest(path):
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or "schema" not in data
        or not isinstance(data.get("files"), list)
    ):
        return None
    rows: list[tuple[str, str]] = []
    for row in data["files"]:
        if not (isinstance(row, list) and len(row) >= 2 and _safe_relpath(row[0])):
            continue
        if isinstance(row[1], str) and objectkeys.HEX128.match(row[1]):
            rows.append((row[0], row[1]))
    return rows


def _safe_relpath(value: object) -> bool:
    if not isinstance(value, str) or not value or "\\" in value or "\0" in value:
        return False
    parts = PurePosixPath(value).parts
    return not PurePosixPath(value).is_absolute() and ".." not in parts and "." not in parts


def objects_of(root: Path, stages: Sequence[str], cached: Cached | None = None) -> list[str]:
    """The cache keys of the selected stages' outs: each out's object and, for a directory,
    the files its manifest lists (manifests missing from the cache contribute only themselves).

    # replaced by the output cache's enumeration at merge
    """
    cache = cache_dir(root)
    keys: list[str] = []
    for digest in dict.fromkeys(out_hashes(selected_locks(root, stages), cached).values()):
        key = objectkeys.file_key(digest)
        keys.append(key)
        for _, listed in manifest_rows(cache / key) or ():
            keys.append(objectkeys.file_key(listed))
    return list(dict.fromkeys(keys))


def run_entries(cache: Path) -> list[str]:
    """The keys of the run-cache entries in a local cache."""
    folder = cache / objectkeys.RUNS
    if not folder.is_dir():
        return []
    keys = (p.relative_to(cache).as_posix() for p in folder.glob("*/*"))
    return sorted(k for k in keys if objectkeys.is_key(k))


def open_selected(project: Project, name: str | None) -> Remote:
    """The remote a command uses (see remotes.select), opened."""
    remotes = project.config.remotes
    return open_remote(select(remotes, name), project.root)


def push(
    project: Project,
    stages: Sequence[str],
    remote: Remote,
    *,
    cached: Cached | None = None,
    jobs: int = transfer.DEFAULT_JOBS,
    listener: transfer.Listener | None = None,
) -> SyncResult:
    """Upload the selected stages' objects and every run-cache entry the remote lacks."""
    cache = cache_dir(project.root)
    keys = objects_of(project.root, stages, cached) + run_entries(cache)
    index = transfer.RemoteIndex.load(cache, remote)
    result = transfer.push(
        keys, lambda key: cache / key, remote, index=index, jobs=jobs, listener=listener
    )
    return SyncResult(result)


def fetch(
    project: Project,
    stages: Sequence[str],
    remote: Remote,
    *,
    cached: Cached | None = None,
    jobs: int = transfer.DEFAULT_JOBS,
    listener: transfer.Listener | None = None,
    skip: Callable[[tuple[str, str], str], bool] | None = None,
) -> SyncResult:
    """Download the selected stages' objects and the remote's run-cache entries we lack.

    Directory manifests come first, then the files they list. `skip((stage, path), hash)` says
    an out needs no object (pull: it is already in the workspace).
    """
    root = project.root
    cache = cache_dir(root)
    index = transfer.RemoteIndex.load(cache, remote)
    publish = objectkeys.publisher(cache)
    hashes = out_hashes(selected_locks(root, stages), cached)
    wanted = {h for out, h in hashes.items() if skip is None or not skip(out, h)}

    def download(keys: Iterable[str]) -> TransferResult:
        lacking = [k for k in dict.fromkeys(keys) if not (cache / k).is_file()]
        return transfer.fetch(
            lacking,
            publish,
            remote,
            temp_dir=cache / "tmp",
            index=index,
            jobs=jobs,
            listener=listener,
        )

    first = download(objectkeys.file_key(h) for h in sorted(wanted))
    listed = [
        objectkeys.file_key(row[1])
        for h in sorted(wanted)
        for row in manifest_rows(cache / objectkeys.file_key(h)) or ()
    ]
    second = download(listed)
    try:
        runs, ignored = transfer.list_keys(remote, objectkeys.RUNS)
    except Exception as exc:
        raise remote.error("listing its run-cache entries", exc) from None
    third = download(sorted(runs))
    return SyncResult(_combine(first, second, third, ignored=ignored))


def fetch_objects(
    project: Project, keys: Sequence[str], *, remote_name: str | None = None
) -> TransferResult:
    """Fetch `keys` the cache lacks from the remote in use (for a command that finds an object
    missing locally, e.g. `get --rev`, falling back to the default remote)."""
    cache = cache_dir(project.root)
    remote = open_selected(project, remote_name)
    lacking = [k for k in dict.fromkeys(keys) if not (cache / k).is_file()]
    index = transfer.RemoteIndex.load(cache, remote)
    publish = objectkeys.publisher(cache)
    return transfer.fetch(lacking, publish, remote, temp_dir=cache / "tmp", index=index)


def _combine(*results: TransferResult, ignored: tuple[str, ...]) -> TransferResult:
    total = results[0]
    for other in results[1:]:
        total = replace(
            total,
            downloaded=transfer.Moved(
                total.downloaded.objects + other.downloaded.objects,
                total.downloaded.bytes + other.downloaded.bytes,
            ),
            missing=total.missing + other.missing,
            rejected=total.rejected + other.rejected,
        )
    return replace(total, ignored=ignored)


def pull(
    project: Project,
    stages: Sequence[str],
    remote: Remote,
    *,
    cached: Cached | None = None,
    jobs: int = transfer.DEFAULT_JOBS,
    listener: transfer.Listener | None = None,
) -> SyncResult:
    """fetch, then restore the selected stages' outs from the cache."""
    root = project.root
    stat_cache = StatCache.load(Layout(root).stat_cache)

    def in_place(out: tuple[str, str], digest: str) -> bool:
        try:
            found = hash_path(root, out[1], stat_cache)
        except OSError:
            return False
        return found is not None and found.hash == digest

    fetched = fetch(
        project, stages, remote, cached=cached, jobs=jobs, listener=listener, skip=in_place
    )
    restored = checkout_after_pull(root, stages, cached, in_place)
    stat_cache.save()
    return replace(fetched, restored=restored)


def checkout_after_pull(
    root: Path,
    stages: Sequence[str],
    cached: Cached | None = None,
    in_place: Callable[[tuple[str, str], str], bool] | None = None,
) -> Restored:
    """Restore each selected cached out whose workspace copy differs, from the cache.

    A file out is copied to a temp file beside it and renamed into place; a directory out gets
    each file its manifest lists (files it does not list are left alone).

    # replaced by the output cache's checkout at merge
    """
    cache = cache_dir(root)
    written: list[str] = []
    unchanged: list[str] = []
    missing: list[str] = []
    for (stage, path), digest in sorted(out_hashes(selected_locks(root, stages), cached).items()):
        if in_place is not None and in_place((stage, path), digest):
            unchanged.append(path)
            continue
        source = cache / objectkeys.file_key(digest)
        rows = manifest_rows(source) if source.is_file() else None
        if not source.is_file():
            missing.append(path)
        elif rows is not None and hash_file(source) != digest:
            restore_directory(root / path, rows, cache, missing, path)
            written.append(path)
        else:
            restore_file(source, root / path)
            written.append(path)
    return Restored(tuple(written), tuple(unchanged), tuple(missing))


def restore_directory(
    target: Path, rows: list[tuple[str, str]], cache: Path, missing: list[str], shown: str
) -> None:
    """Write each listed file of a directory out from the cache."""
    for rel, digest in rows:
        source = cache / objectkeys.file_key(digest)
        if not source.is_file():
            missing.append(f"{shown}/{rel}")
            continue
        restore_file(source, target / rel)


def restore_file(source: Path, target: Path) -> None:
    """Copy a cache object to `target` through a temp file beside it and a rename (writable)."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.fastpipe-tmp")
    try:
        objectkeys.copy_file(source, temp)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()

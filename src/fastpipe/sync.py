"""push / fetch / pull of the selected stages' cached outs (and run-cache entries) to a remote.

Which objects a stage has is read from its lock (the hashes of its cached outs) and, for a
directory out, from its manifest object in the cache (the hashes it lists). `pull` restores the
outs from the cache afterwards, each file through a temp file and a rename.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from fastpipe import objectkeys, transfer
from fastpipe.discovery import Project
from fastpipe.hashing import StatCache, hash_path
from fastpipe.layout import Layout
from fastpipe.lockfile import LockEntry
from fastpipe.objects import CorruptObjectError, ObjectStore
from fastpipe.remotes import Remote, open_remote, select
from fastpipe.transfer import TransferResult

CACHE_DIR_ENV = "FASTPIPE_CACHE_DIR"
Cached = Callable[[str, str], bool]  # (stage, path) -> whether that out is in the output cache


@dataclass(frozen=True)
class Restored:
    """What `pull`'s checkout did: outs written, outs already in place, outs it could not."""

    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # object keys the cache lacks
    kept: tuple[str, ...] = ()  # modified files not in the cache, left as they are


@dataclass(frozen=True)
class SyncResult:
    """A push, fetch or pull: the transfer, and for pull the checkout."""

    transfer: TransferResult
    restored: Restored | None = None
    verified: frozenset[str] = frozenset()  # keys this fetch downloaded, checked and published


def cache_dir(root: Path) -> Path:
    """The output cache of the project at `root` (`cache_dir`, `$FASTPIPE_CACHE_DIR`)."""
    from fastpipe.discovery import load_project
    from fastpipe.store import cache_dir as configured_cache

    return configured_cache(load_project(root))


def selected_locks(root: Path, stages: Sequence[str]) -> dict[str, LockEntry]:
    """The locks of `stages` (default: every stage with a lock), by stage name, their paths and
    hashes checked as checkout checks them (a lock is untrusted input)."""
    from fastpipe.checkout import stage_locks

    return {entry.stage: entry for entry in stage_locks(root, stages)}


def out_hashes(locks: dict[str, LockEntry], cached: Cached | None) -> dict[tuple[str, str], str]:
    """(stage, out path) -> the out's hash in its lock, for the cached outs."""
    found: dict[tuple[str, str], str] = {}
    for stage, entry in locks.items():
        for path, digest in entry.outs.items():
            if (cached is None or cached(stage, path)) and objectkeys.HEX128.match(digest.hash):
                found[(stage, path)] = digest.hash
    return found


def objects_of(root: Path, stages: Sequence[str], cached: Cached | None = None) -> list[str]:
    """The cache keys of the selected stages' outs: each out's object and, for a directory,
    the files its manifest lists (manifests missing from the cache contribute only themselves)."""
    store = _object_store(root)
    keys: list[str] = []
    for digest in dict.fromkeys(out_hashes(selected_locks(root, stages), cached).values()):
        keys.append(objectkeys.file_key(digest))
        keys.extend(objectkeys.file_key(listed) for listed in _listed(store, digest))
    return list(dict.fromkeys(keys))


def _object_store(root: Path) -> ObjectStore:
    from fastpipe.discovery import load_project
    from fastpipe.store import object_store

    return object_store(load_project(root))


def _listed(store: ObjectStore, digest: str) -> list[str]:
    """The hashes a directory manifest object lists ([] for a file object, or none cached)."""
    try:
        files = store.tree(digest)
    except (FileNotFoundError, CorruptObjectError):
        return []
    return [f.hash for f in files or ()]


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
    jobs: int | None = None,
    listener: transfer.Listener | None = None,
) -> SyncResult:
    """Upload the selected stages' objects and every run-cache entry the remote lacks."""
    cache = cache_dir(project.root)
    keys = objects_of(project.root, stages, cached) + run_entries(cache)
    index = transfer.RemoteIndex.load(cache, remote)
    result = transfer.push(
        keys, lambda key: f"{cache}/{key}", remote, index=index, jobs=jobs, listener=listener
    )
    return SyncResult(result)


def fetch(
    project: Project,
    stages: Sequence[str],
    remote: Remote,
    *,
    cached: Cached | None = None,
    jobs: int | None = None,
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
        lacking = [k for k in dict.fromkeys(keys) if not os.path.isfile(f"{cache}/{k}")]
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
    store = _object_store(root)
    listed = [objectkeys.file_key(f) for h in sorted(wanted) for f in _listed(store, h)]
    second = download(listed)
    try:
        runs, ignored = transfer.list_keys(remote, objectkeys.RUNS)
    except Exception as exc:
        raise remote.error("listing its run-cache entries", exc) from None
    third = download(sorted(runs))
    return SyncResult(_combine(first, second, third, ignored=ignored), verified=publish.verified)


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
    jobs: int | None = None,
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
    trusted = frozenset(objectkeys.digest_of(k) for k in fetched.verified)
    restored = checkout_after_pull(root, stages, trusted=trusted)
    stat_cache.save()
    return replace(fetched, restored=restored)


def checkout_after_pull(
    root: Path, stages: Sequence[str], *, trusted: frozenset[str] = frozenset()
) -> Restored:
    """Make the selected stages' outs match their locks from the cache, as `fastpipe checkout`
    does (a modified file the cache lacks is kept and named, never destroyed).

    `trusted`: digests of objects this very pull verified and published, placed without
    hashing them again (every other object is verified as it is placed)."""
    from fastpipe.checkout import checkout
    from fastpipe.events import ignore

    report = checkout(root, stages, force=False, listener=ignore, trusted=trusted)
    missing = tuple(objectkeys.file_key(p.hash) for p in report.missing)
    kept = tuple(p.path for p in report.kept)
    return Restored(report.restored, report.unchanged, missing, kept)

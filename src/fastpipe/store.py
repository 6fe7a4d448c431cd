"""One owner for a project's state under `.fastpipe/`: locks, run records, objects, run cache.

The runner decides, finishes and places; it asks the `StateStore` to read a stage's lock
(with the unfinished-rerun rule), to `begin` a stage (its lock moves aside while it reruns),
to `commit` the lock it ran with, and to restore outs from the object cache. Status, the fast
path and run share `read_stage_lock` and `restorable`, so they answer the same way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fastpipe import runrecord, sourcestore
from fastpipe.atomicfile import atomic_write_many
from fastpipe.discovery import Project
from fastpipe.hashing import FileHash, StatCache
from fastpipe.layout import Layout
from fastpipe.links import DEFAULT_LINK, LinkMode
from fastpipe.lockfile import LockEntry, LockRead, read_lock
from fastpipe.objects import ObjectStore
from fastpipe.runcache import RunCache
from fastpipe.staleness import UNFINISHED, Reason, ReasonKind

if TYPE_CHECKING:
    from fastpipe.lockwriter import LockWriter
    from fastpipe.restore import Placement

CACHE_DIR_ENV = "FASTPIPE_CACHE_DIR"
MISSING = "missing"  # staleness's word for an out that is not on disk


def cache_dir(project: Project) -> Path:
    """The output cache: $FASTPIPE_CACHE_DIR, else `cache_dir` (root-relative), else default."""
    configured = os.environ.get(CACHE_DIR_ENV) or project.config.cache_dir
    if not configured:
        return project.layout.cache
    path = Path(configured).expanduser()
    return path if path.is_absolute() else project.root / path


def object_store(project: Project) -> ObjectStore:
    """The project's object cache, with its configured link mode."""
    link = LinkMode(project.config.cache_link) if project.config.cache_link else DEFAULT_LINK
    return ObjectStore(cache_dir(project), link)


def read_stage_lock(
    layout: Layout, name: str, read: Callable[[Path], LockRead] = read_lock
) -> LockRead:
    """Stage `name`'s lock; when missing, the one an unfinished rerun moved aside, if any.

    `read` reads one lock file (a LockCache's read, to skip parsing unchanged ones).
    """
    found = read(layout.lock_path(name))
    if found.entry is None and found.problem is None:
        previous = read(layout.unfinished_lock_path(name))
        if previous.entry is not None:
            found = LockRead(None, UNFINISHED, previous=previous.entry)
    if found.entry is not None and found.entry.stage != name:
        found = LockRead(None, f"lock unreadable: it names stage '{found.entry.stage}'")
    return found


def restorable(objects: ObjectStore, lock: LockRead, reasons: Sequence[Reason]) -> bool:
    """Whether a stale stage only lacks outs whose objects the cache holds (restore, not run)."""
    entry = lock.entry
    if entry is None or not reasons:
        return False
    for reason in reasons:
        if reason.kind is not ReasonKind.OUTS:
            return False
        for item in reason.items:
            if reason.changes.get(item) != MISSING or item not in entry.outs:
                return False
            if not objects.has(entry.outs[item].hash):
                return False
    return True


class StateStore:
    """A project's `.fastpipe/` state for one run."""

    def __init__(self, project: Project) -> None:
        self.layout = project.layout
        self.objects = object_store(project)
        self.runs = RunCache(self.objects.root / "runs")
        self._writer: LockWriter | None = None
        self._runs: list[tuple[Path, bytes]] = []
        self._sources: list[tuple[Path, bytes]] = []
        self._sources_seen: set[str] = set()  # manifest hashes already looked at this run

    def read_lock(self, name: str) -> LockRead:
        return read_stage_lock(self.layout, name)

    def begin(self, name: str) -> None:
        """A stage is about to rerun: until its new lock is written, the old one would vouch
        for outputs about to be deleted, so it moves aside (explain still compares with it)."""
        lock = self.layout.lock_path(name)
        if lock.exists():
            aside = self.layout.unfinished_lock_path(name)
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(lock, aside)

    def commit(self, entry: LockEntry) -> None:
        """Queue the lock of a stage that finished (written in the background, batched)."""
        if self._writer is None:
            from fastpipe.lockwriter import LockWriter

            self._writer = LockWriter()
        name = entry.stage
        self._writer.write(
            self.layout.lock_path(name), entry, self.layout.unfinished_lock_path(name)
        )

    def remember_run(self, key: str, stage: str, outs: Mapping[str, FileHash]) -> None:
        """Queue a run-cache entry (written at close, all with one filesystem flush)."""
        self._runs.append(self.runs.entry(key, stage, outs))

    def remember_sources(
        self, items: Mapping[str, str], definition_of: sourcestore.Definitions
    ) -> None:
        """Queue the definitions of a stage's code items for `explain --diff`
        (sourcestore.pending), written at close with one filesystem flush: no stage's finish
        waits for a sync of them. A helper many stages share is looked at once."""
        self._sources.extend(
            sourcestore.pending(self.layout, items, definition_of, self._sources_seen)
        )

    def restore(self, outs: Mapping[str, FileHash], cache: StatCache) -> Placement:
        """Write `outs` from the object cache (FileNotFoundError, CorruptObjectError)."""
        from fastpipe.restore import Placement, Restorer

        done = Placement()
        restorer = Restorer(self.objects, self.layout.root, cache)
        for path, found in outs.items():
            restorer.out(path, found.hash, done)
        return done

    def drop_corrupt(self, digest: str) -> None:
        self.objects.remove(digest)

    def close(self, durations: Mapping[str, tuple[float, int | None]]) -> dict[str, str]:
        """Finish the run's writes: locks (the unwritten ones returned with why), records."""
        unwritten: dict[str, str] = {}
        if self._runs:
            with contextlib.suppress(OSError):  # the run cache only saves time
                atomic_write_many(self._runs)
        sourcestore.write(self._sources)
        if self._writer is not None:
            unwritten = self._writer.close()
            self._cache_locks(self._writer.written())
        if durations:
            records = runrecord.load(self.layout.run_record)
            for name, (duration, peak) in durations.items():
                records[name] = runrecord.StageRecord(duration, peak)
            runrecord.save(self.layout.run_record, records)
        return unwritten

    def _cache_locks(self, written: Sequence[tuple[Path, bytes, LockEntry]]) -> None:
        """Add the locks just written to the lock cache: the next status need not parse them."""
        if not written:
            return
        from fastpipe.lockcache import LockCache

        cache = LockCache.load(self.layout.lock_cache)
        for lock, data, entry in written:
            cache.remember(lock, data, entry)
        cache.save()

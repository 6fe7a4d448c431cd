"""`fastpipe gc`: delete the cache objects and run-cache entries no lock refers to.

The scope is explicit: the workspace's locks, or also the locks of every commit of every
branch and tag (read from git objects; a commit whose locks cannot be read is skipped with a
warning). Temp files older than an hour (left by a crash; a younger one may belong to a
writer still at work) go too. The stat, lock and snapshot
caches beside the objects are never touched.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastpipe import discovery
from fastpipe.errors import FastpipeError
from fastpipe.events import Listener, WarningIssued
from fastpipe.lockfile import LockEntry
from fastpipe.objects import ObjectStore
from fastpipe.runcache import RunCache
from fastpipe.store import StateStore, read_stage_lock

STALE_TEMP_S = 3600.0


class Scope(enum.StrEnum):
    WORKSPACE = "workspace"
    ALL_COMMITS = "all_commits"


@dataclass(frozen=True)
class GcReport:
    """What gc removed (or, with dry_run, would remove)."""

    objects: int
    run_entries: int
    temp_files: int
    bytes_freed: int
    kept: int  # objects still referenced
    skipped_commits: tuple[str, ...]
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "objects": self.objects,
            "run_cache_entries": self.run_entries,
            "temp_files": self.temp_files,
            "bytes_freed": self.bytes_freed,
            "kept": self.kept,
            "skipped_commits": list(self.skipped_commits),
        }


def gc(start: Path, scope: Scope | None, *, dry_run: bool, listener: Listener) -> GcReport:
    """Remove what no lock in `scope` refers to."""
    if scope is None:
        raise FastpipeError("gc needs a scope: --workspace or --all-commits")
    project = discovery.load_project(start)
    state = StateStore(project)
    entries = _workspace_locks(project)
    skipped: list[str] = []
    if scope is Scope.ALL_COMMITS:
        entries += _commit_locks(project.root, skipped, listener)
    keep = _referenced(state.objects, entries)
    now = time.time()
    removed = runs = temps = freed = kept = 0
    for digest, path in list(state.objects.all_objects()):
        if digest in keep:
            kept += 1
            continue
        if not digest and now - _mtime(path) < STALE_TEMP_S:
            continue
        freed += _size(path)
        if digest:
            removed += 1
        else:
            temps += 1
        if not dry_run:
            path.unlink(missing_ok=True)
    runs_removed, runs_freed, run_temps = _gc_runs(state.runs, keep, now, dry_run)
    runs, freed, temps = runs_removed, freed + runs_freed, temps + run_temps
    return GcReport(removed, runs, temps, freed, kept, tuple(skipped), dry_run)


def _workspace_locks(project: discovery.Project) -> list[LockEntry]:
    layout = project.layout
    names = {p.stem for p in layout.stages.glob("*.lock")}
    names |= {p.stem for p in (layout.cache / "unfinished").glob("*.lock")}
    found: list[LockEntry] = []
    for name in sorted(names):
        lock = read_stage_lock(layout, name)
        found.extend(e for e in (lock.entry, lock.previous) if e is not None)
    return found


def _commit_locks(root: Path, skipped: list[str], listener: Listener) -> list[LockEntry]:
    from fastpipe.gitobjects import GitObjects
    from fastpipe.revision import locks_at

    found: list[LockEntry] = []
    with GitObjects(root) as git:
        for commit in git.all_commits():
            try:
                found += locks_at(git, commit)
            except FastpipeError as exc:
                skipped.append(commit)
                listener(WarningIssued(f"gc: skipped commit {commit[:12]}: {exc}"))
    return found


def _referenced(store: ObjectStore, entries: Iterable[LockEntry]) -> set[str]:
    """Every object the locks refer to: outs, and the files of directory outs."""
    keep: set[str] = set()
    for entry in entries:
        for found in entry.outs.values():
            if found.hash in keep:
                continue
            keep.add(found.hash)
            try:
                files = store.tree(found.hash)
            except (OSError, FastpipeError):
                continue
            keep.update(f.hash for f in files or ())
    return keep


def _gc_runs(runs: RunCache, keep: set[str], now: float, dry_run: bool) -> tuple[int, int, int]:
    removed = freed = temps = 0
    for key, path in list(runs.entries()):
        if key:
            outs = runs.outs_of(path)
            if outs and all(h in keep for h in outs):
                continue
            removed += 1
        elif now - _mtime(path) < STALE_TEMP_S:
            continue
        else:
            temps += 1
        freed += _size(path)
        if not dry_run:
            path.unlink(missing_ok=True)
    return removed, freed, temps


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return time.time()


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0

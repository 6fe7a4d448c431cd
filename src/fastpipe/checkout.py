"""`fastpipe checkout`: make the workspace outs match the locks, from the object cache.

Works from the lock files alone (the pipeline is not imported), so it also runs right after
`git checkout` of a branch whose pipeline differs. Locks are untrusted input: every out path
and hash is checked before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastpipe import discovery, safepath
from fastpipe.errors import UnknownStageError
from fastpipe.events import Listener, WarningIssued
from fastpipe.hashing import StatCache
from fastpipe.lockfile import LockEntry
from fastpipe.objects import CorruptObjectError
from fastpipe.restore import Placement, Restorer
from fastpipe.store import object_store, read_stage_lock


@dataclass(frozen=True)
class OutProblem:
    """An out checkout could not make match its lock."""

    stage: str
    path: str
    hash: str = ""


@dataclass(frozen=True)
class CheckoutReport:
    """What checkout did: outs written, files removed, what it kept or could not find."""

    restored: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: int
    kept: tuple[OutProblem, ...]  # modified files whose content the cache lacks (not --force)
    missing: tuple[OutProblem, ...]  # objects the cache lacks

    @property
    def ok(self) -> bool:
        return not self.kept and not self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "restored": list(self.restored),
            "unchanged": list(self.unchanged),
            "removed": self.removed,
            "kept": [{"stage": p.stage, "path": p.path} for p in self.kept],
            "missing": [{"stage": p.stage, "path": p.path, "hash": p.hash} for p in self.missing],
        }


def stage_locks(root: Path, targets: Sequence[str]) -> list[LockEntry]:
    """The locks of `targets` (default: every stage with a lock), their paths checked."""
    layout = discovery.Project(root, discovery.ProjectConfig()).layout
    known = sorted(p.stem for p in layout.stages.glob("*.lock"))
    for name in targets:
        if name not in known:
            raise UnknownStageError(name, known)
    entries: list[LockEntry] = []
    for name in dict.fromkeys(targets) or known:
        entry = read_stage_lock(layout, name).entry
        if entry is None:
            continue
        safepath.check_outs(entry.outs, f"lock of stage '{name}'")
        entries.append(entry)
    return entries


def checkout(
    start: Path,
    targets: Sequence[str],
    *,
    force: bool,
    listener: Listener,
    trusted: frozenset[str] = frozenset(),
) -> CheckoutReport:
    """Make the outs of `targets` (default: all) match their locks.

    `trusted`: digests of objects the calling command itself verified and published (a pull's
    downloads), placed without hashing them again.
    """
    project = discovery.load_project(start)
    entries = stage_locks(project.root, targets)
    cache = StatCache.load(project.layout.stat_cache)
    store = object_store(project)
    restorer = Restorer(store, project.root, cache, force=force, trusted=trusted)
    restored: list[str] = []
    unchanged: list[str] = []
    kept: list[OutProblem] = []
    missing: list[OutProblem] = []
    removed = 0
    for entry in entries:
        for path, found in sorted(entry.outs.items()):
            done = Placement()
            try:
                restorer.out(path, found.hash, done)
            except FileNotFoundError:
                missing.append(OutProblem(entry.stage, path, found.hash))
                continue
            except CorruptObjectError as exc:
                store.remove(exc.digest)
                listener(WarningIssued(f"{exc}: removed it from the cache"))
                missing.append(OutProblem(entry.stage, path, found.hash))
                continue
            kept.extend(OutProblem(entry.stage, k) for k in done.kept)
            removed += done.removed
            if done.written or done.removed:
                restored.append(path)
            elif not done.kept:  # a kept file is not "unchanged": it differs from its lock
                unchanged.append(path)
    cache.save()
    return CheckoutReport(tuple(restored), tuple(unchanged), removed, tuple(kept), tuple(missing))

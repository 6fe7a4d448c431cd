"""`status` and a no-op `run` from a trusted snapshot, without importing the pipeline.

Imports only light modules: this is the path a no-op command takes, and most of its cost
would otherwise be importing networkx, the fingerprint machinery and the user's numpy.
`remember` (called after a full load) writes the snapshot; `open_view` trusts it only when
snapshot.still_valid says nothing it depended on changed.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from fastpipe import snapshot
from fastpipe.discovery import Project
from fastpipe.events import FastPathOff, Listener, WarningIssued
from fastpipe.hashing import StatCache, hash_path
from fastpipe.lockcache import LockCache
from fastpipe.lockfile import LockRead
from fastpipe.staleness import UNFINISHED, Observed, StageStatus, statuses
from fastpipe.store import object_store, read_stage_lock, restorable
from fastpipe.targets import expand as expand_targets

if TYPE_CHECKING:
    from fastpipe.context import Context

RACY_WINDOW_NS = 2_000_000_000  # a source edited this close to the load may not be what ran


class View:
    """The project as a snapshot describes it, with deps, outputs and locks read from disk."""

    def __init__(
        self, project: Project, snap: snapshot.Snapshot, cache: StatCache, listener: Listener
    ) -> None:
        self.project = project
        self.snapshot = snap
        self.cache = cache
        self.listener = listener
        self.locks = LockCache.load(project.layout.lock_cache)

    def save(self) -> None:
        """Keep what this command hashed and parsed for the next one."""
        self.cache.save()
        self.locks.save()

    def select(self, targets: Sequence[str], *, downstream: bool = False) -> list[str]:
        """Targets and their upstream (or downstream), in topological order, like graph.select."""
        stages = self.snapshot.stages
        targets = expand_targets(targets, self.snapshot.order)
        if not targets:
            return list(self.snapshot.order)
        if downstream:
            below: dict[str, list[str]] = {n: [] for n in stages}
            for name, entry in stages.items():
                for up in entry.upstream:
                    below[up].append(name)
            chosen = _closure(targets, lambda n: below[n])
        else:
            chosen = _closure(targets, lambda n: stages[n].upstream)
        return [n for n in self.snapshot.order if n in chosen]

    def statuses(self, selection: Sequence[str]) -> list[StageStatus]:
        for name in selection:
            for warning in self.snapshot.stages[name].warnings:
                self.listener(WarningIssued(f"stage '{name}': {warning}"))
        return statuses(
            selection,
            self._lock,
            self._observe,
            lambda n: self.snapshot.stages[n].upstream,
            functools.partial(restorable, object_store(self.project)),
        )

    def _lock(self, name: str) -> LockRead:
        found = read_stage_lock(self.project.layout, name, self.locks.read)
        if found.problem and found.problem != UNFINISHED:
            self.listener(WarningIssued(f"stage '{name}': {found.problem}"))
        return found

    def _observe(self, name: str) -> Observed:
        entry = self.snapshot.stages[name]
        root = self.project.root
        return Observed(
            code=entry.code,
            params=entry.params,
            deps={p: hash_path(root, p, self.cache) for p in entry.deps},
            outs={p: hash_path(root, p, self.cache) for p in entry.outputs},
            packages=entry.packages,
        )


def _closure(starts: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    found: set[str] = set()
    stack = list(starts)
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(step(name))
    return found


def open_view(project: Project, listener: Listener) -> View | None:
    """A view from the project's snapshot, or None when it cannot be trusted."""
    snap = snapshot.load(project.layout.snapshot)
    if snap is None:
        listener(FastPathOff(snapshot.why_none(project.layout.snapshot)))
        return None
    cache = StatCache.load(project.layout.stat_cache)
    causes = snapshot.causes(snap, project.root, cache)
    if causes:
        listener(FastPathOff(tuple(causes)))
        return None
    return View(project, snap, cache, listener)


def remember(ctx: Context) -> None:
    """Save a snapshot of a fully loaded pipeline, if the load can be trusted to repeat."""
    layout = ctx.pipeline.project.layout
    facts = ctx.load
    if facts is None:
        snapshot.refuse(layout.snapshot, ["params were overridden (--set)"])
        return
    manifests = {name: ctx.manifest(name, quiet=True) for name in ctx.pipeline.stages}
    record = facts.combined()  # after fingerprinting: it may have imported more modules
    if record.ambient:
        snapshot.refuse(layout.snapshot, record.ambient)
        return
    project = ctx.fingerprinter.project
    modules = [m for m in list(sys.modules.values()) if project.module_relpath(m) is not None]
    files = [getattr(m, "__file__", None) or "" for m in modules]
    files += [str(ctx.root / f) for m in manifests.values() for f in m.files]
    sources = snapshot.sources_of(ctx.root, record, files, ctx.cache)
    if sources is None:
        snapshot.refuse(layout.snapshot, ["a file the load read could not be hashed"])
        return
    edited = _edited_during_load(ctx, sources, facts.started_ns)
    if edited is not None:
        snapshot.refuse(layout.snapshot, [f"{edited} was edited just before or during the load"])
        return
    from fastpipe import graph

    dirs = {os.path.dirname(f) for f in files if f}
    missing = snapshot.missing_modules(record)
    snap = snapshot.Snapshot(
        environment=snapshot.environment_key(ctx.root),
        sources=sources,
        listings=snapshot.listings_of(ctx.root, record, dirs, missing),
        order=tuple(graph.topological_order(ctx.graph)),
        stages={
            name: snapshot.StageEntry(
                deps=stage.spec.deps,
                outputs=stage.spec.outputs,
                upstream=tuple(graph.direct_upstream(ctx.graph, name)),
                params=ctx.params[name],
                code=manifests[name].items,
                warnings=manifests[name].warnings,
                packages=ctx.packages(name),
            )
            for name, stage in ctx.pipeline.stages.items()
        },
        missing=missing,
        asked_at=snapshot.asked_at(ctx.root, record),
    )
    snapshot.save(layout.snapshot, snap)


def _edited_during_load(ctx: Context, sources: Iterable[str], started_ns: int) -> str | None:
    """A source changed so close to the load that what ran may not be what we hash."""
    for key in sources:
        path = key if os.path.isabs(key) else str(ctx.root / key)
        try:
            if os.stat(path).st_mtime_ns > started_ns - RACY_WINDOW_NS:
                return key
        except FileNotFoundError:
            continue
    return None

"""Everything one command knows about the project: stages, graph, params, locks, caches.

Built once per command; code fingerprints, dep hashes and locks are computed on first use
and remembered for the rest of the command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from fastpipe import discovery, graph, params
from fastpipe.events import Listener, WarningIssued
from fastpipe.fingerprint import Fingerprinter, Manifest
from fastpipe.hashing import FileHash, StatCache, hash_path
from fastpipe.lockfile import LockRead, read_lock
from fastpipe.staleness import UNFINISHED, Observed, StageStatus, compare, upstream_reason


@dataclass(frozen=True)
class Context:
    """A loaded project and the per-command caches over it."""

    pipeline: discovery.Pipeline
    graph: nx.DiGraph
    params: Mapping[str, Mapping[str, Any]]
    cache: StatCache
    listener: Listener
    fingerprinter: Fingerprinter
    _manifests: dict[str, Manifest] = field(default_factory=dict[str, Manifest])
    _locks: dict[str, LockRead] = field(default_factory=dict[str, LockRead])

    @property
    def root(self) -> Path:
        return self.pipeline.project.root

    def spec(self, name: str) -> Any:
        return self.pipeline.stages[name].spec

    def manifest(self, name: str) -> Manifest:
        """The code fingerprint of stage `name` (warnings reported once)."""
        if name not in self._manifests:
            stage = self.pipeline.stages[name]
            manifest = self.fingerprinter.manifest(stage.func, stage.spec.fingerprint)
            for warning in manifest.warnings:
                self.listener(WarningIssued(f"stage '{name}': {warning}"))
            self._manifests[name] = manifest
        return self._manifests[name]

    def lock(self, name: str) -> LockRead:
        """The stage's lock as last read (a malformed one is reported once)."""
        if name not in self._locks:
            layout = self.pipeline.project.layout
            found = read_lock(layout.lock_path(name))
            if found.entry is None and found.problem is None:
                found = _unfinished(read_lock(layout.unfinished_lock_path(name)))
            if found.entry is not None and found.entry.stage != name:
                found = LockRead(None, f"lock unreadable: it names stage '{found.entry.stage}'")
            if found.problem and found.problem != UNFINISHED:
                self.listener(WarningIssued(f"stage '{name}': {found.problem}"))
            self._locks[name] = found
        return self._locks[name]

    def forget_lock(self, name: str) -> None:
        self._locks.pop(name, None)

    def hash(self, path: str) -> FileHash | None:
        return hash_path(self.root, path, self.cache)

    def observe(self, name: str) -> Observed:
        """The stage's code, params, and deps and outputs as they are on disk now."""
        spec = self.spec(name)
        return Observed(
            code=self.manifest(name).items,
            params=self.params[name],
            deps={p: self.hash(p) for p in spec.deps},
            outs={p: self.hash(p) for p in spec.outputs},
        )

    def statuses(self, selection: Sequence[str]) -> list[StageStatus]:
        """Freshness of each selected stage (topological order), with `upstream` reasons."""
        will_run: set[str] = set()
        found: list[StageStatus] = []
        for name in selection:
            reasons = list(compare(self.lock(name), self.observe(name)))
            running_upstream = [u for u in graph.direct_upstream(self.graph, name) if u in will_run]
            upstream = upstream_reason(running_upstream)
            if upstream is not None:
                reasons.append(upstream)
            if reasons:
                will_run.add(name)
            found.append(StageStatus(name, tuple(reasons)))
        return found

    def select(self, targets: Iterable[str], *, downstream: bool = False) -> list[str]:
        return graph.select(self.graph, list(targets), downstream=downstream)


def _unfinished(previous: LockRead) -> LockRead:
    """No lock, but the one from before a run that did not finish: compare with that."""
    if previous.entry is None:
        return LockRead(None, None)
    return LockRead(None, UNFINISHED, previous=previous.entry)


def open_context(start: Path, *, overrides: Sequence[str] = (), listener: Listener) -> Context:
    """Load the project at or above `start` and everything commands need about it."""
    project = discovery.load_project(start)
    pipeline = discovery.load_pipeline(project)
    specs = pipeline.specs
    dag = graph.build_graph(specs.values())
    parsed = [params.parse_override(o) for o in overrides]
    resolved = params.resolve_params(specs, params.load_params_file(project.root), parsed)
    cache = StatCache.load(project.layout.stat_cache)

    def hash_file(path: str) -> str | None:
        found = hash_path(project.root, path, cache)
        return found.hash if found else None

    return Context(pipeline, dag, resolved, cache, listener, Fingerprinter(project.root, hash_file))

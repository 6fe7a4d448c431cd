"""Everything one command knows about the project: stages, graph, params, locks, caches.

Built once per command; code fingerprints, dep hashes and locks are computed on first use
and remembered for the rest of the command.
"""

from __future__ import annotations

import copy
import functools
import importlib
import time
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from fastpipe import discovery, graph, importwatch
from fastpipe import packages as installed
from fastpipe.events import Listener, WarningIssued
from fastpipe.fingerprint import Fingerprinter, Manifest
from fastpipe.fingerprint.sourceindex import Carried
from fastpipe.hashing import FileHash, StatCache, hash_path
from fastpipe.importwatch import ImportRecord
from fastpipe.lockcache import LockCache
from fastpipe.lockfile import LockRead
from fastpipe.params import Override, parse_params_text, read_params_text, resolve_params
from fastpipe.staleness import UNFINISHED, Observed, StageStatus, statuses
from fastpipe.store import object_store, read_stage_lock, restorable


@dataclass(frozen=True)
class Context:
    """A loaded project and the per-command caches over it."""

    pipeline: discovery.Pipeline
    graph: nx.DiGraph
    params: Mapping[str, Mapping[str, Any]]
    cache: StatCache
    listener: Listener
    fingerprinter: Fingerprinter
    load: LoadFacts | None = None  # None: params overridden (--set), or a repeated load
    locks: LockCache | None = None  # parsed locks kept by the caller across commands (watch)
    derived: Derived | None = None  # for the next load's `previous` (run --watch)
    _manifests: dict[str, Manifest] = field(default_factory=dict[str, Manifest])
    _locks: dict[str, LockRead] = field(default_factory=dict[str, LockRead])
    _warned: set[str] = field(default_factory=set[str])  # stages whose code warnings were shown
    _shared_fingerprint: dict[str, tuple[object, ...]] = field(
        default_factory=dict[str, tuple[object, ...]]
    )  # a matrix stage's name -> the fingerprint= of the variant its manifest was made for
    _installed: list[installed.Distributions] = field(
        default_factory=list[installed.Distributions]
    )  # scanned (or read from the cache) on first use, once per command

    @property
    def root(self) -> Path:
        return self.pipeline.project.root

    def spec(self, name: str) -> Any:
        return self.pipeline.stages[name].spec

    def manifest(self, name: str, *, quiet: bool = False) -> Manifest:
        """The code fingerprint of stage `name` (its warnings reported once, unless quiet)."""
        if name not in self._manifests:
            stage = self.pipeline.stages[name]
            self._manifests[name] = self._fingerprint(stage.func, stage.spec)
        manifest = self._manifests[name]
        # A matrix stage's variants share one manifest: its warnings are shown once, not per
        # variant. A quiet first call does not silence them.
        shown: str = self.spec(name).base or name
        if not quiet and manifest.warnings and shown not in self._warned:
            self._warned.add(shown)
            for warning in manifest.warnings:
                self.listener(WarningIssued(f"stage '{name}': {warning}"))
        return manifest

    def _fingerprint(self, func: Any, spec: Any) -> Manifest:
        # A matrix stage's function is fingerprinted once for all its variants (they differ
        # only in params and paths), unless their fingerprint= paths differ.
        base = spec.base
        shared = self._manifests.get(f"{base}@") if base is not None else None
        if shared is not None and self._shared_fingerprint.get(base or "") == spec.fingerprint:
            return shared
        manifest = self.fingerprinter.manifest(func, spec.fingerprint)
        if base is not None and f"{base}@" not in self._manifests:
            self._manifests[f"{base}@"] = manifest
            self._shared_fingerprint[base] = spec.fingerprint
        return manifest

    def reuse_manifest(self, name: str, manifest: Manifest) -> None:
        """Take `manifest` for stage `name` without fingerprinting it again: the caller knows
        none of its files changed since it was computed (run --watch, after an edit)."""
        self._manifests.setdefault(name, manifest)

    def packages(self, name: str) -> Mapping[str, str] | None:
        """`{distribution: version}` of the installed packages the stage's code reaches; None
        when package tracking is off (`[tool.fastpipe] track_packages`, `@stage(...)`)."""
        if not (self.pipeline.project.config.track_packages and self.spec(name).track_packages):
            return None
        if not self._installed:
            state = installed.environment_state(exclude=[str(self.root)])
            path = self.pipeline.project.layout.cache / "packages.json"
            self._installed.append(installed.load(path, state))
        return self._installed[0].reached(self.manifest(name).libraries)

    def lock(self, name: str) -> LockRead:
        """The stage's lock as last read (a malformed one is reported once)."""
        if name not in self._locks:
            layout = self.pipeline.project.layout
            found = (
                read_stage_lock(layout, name)
                if self.locks is None
                else read_stage_lock(layout, name, self.locks.read)
            )
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
            packages=self.packages(name),
        )

    def statuses(self, selection: Sequence[str]) -> list[StageStatus]:
        """Freshness of each selected stage (topological order), with `upstream` reasons."""
        objects = object_store(self.pipeline.project)
        return statuses(
            selection,
            self.lock,
            self.observe,
            lambda n: graph.direct_upstream(self.graph, n),
            functools.partial(restorable, objects),
        )

    def select(self, targets: Iterable[str], *, downstream: bool = False) -> list[str]:
        return graph.select(self.graph, list(targets), downstream=downstream)


@dataclass(frozen=True)
class Derived:
    """What a load derived from the stage declarations and params.yaml, for the next load of
    a caller that loads again and again (run --watch); each part is taken over only while what
    it was derived from is exactly the same."""

    params_text: str | None  # params.yaml as read (None: no file)
    params_file: Mapping[str, Mapping[str, Any]]  # its parse (handed out as a deep copy)
    graph_key: tuple[tuple[object, ...], ...]  # what build_graph reads of each spec
    graph: nx.DiGraph


def _graph_key(specs: Iterable[Any]) -> tuple[tuple[object, ...], ...]:
    """Everything of the specs that the graph is built from or read for (names, deps,
    outputs, a matrix variant's base), in order: strings, compared exactly."""
    return tuple((s.name, s.deps, s.outputs, s.base) for s in specs)


def _params_file(text: str | None, previous: Derived | None) -> Mapping[str, Mapping[str, Any]]:
    if previous is not None and previous.params_text == text:
        return copy.deepcopy(dict(previous.params_file))  # a stage may mutate its params
    return parse_params_text(text)


def _graph(
    specs: Mapping[str, Any], key: tuple[tuple[object, ...], ...], previous: Derived | None
) -> nx.DiGraph:
    if previous is None or previous.graph_key != key:
        return graph.build_graph(specs.values())
    dag = previous.graph.copy()
    for name, spec in specs.items():
        dag.nodes[name]["spec"] = spec  # the same paths, maybe not the same timeout, params...
    return dag


@dataclass(frozen=True)
class LoadFacts:
    """How the pipeline was loaded: what it read, and when (for snapshot.py)."""

    record: ImportRecord
    started_ns: int  # time.time_ns() before the import
    late: list[ImportRecord]  # modules fingerprinting imported later, watched the same way

    def combined(self) -> ImportRecord:
        """Everything the load and the later imports read, listed and asked for."""
        records = [self.record, *self.late]
        return ImportRecord(
            frozenset().union(*(r.files_read for r in records)),
            frozenset().union(*(r.dirs_listed for r in records)),
            tuple(a for r in records for a in r.ambient),
            frozenset().union(*(r.imports_tried for r in records)),
            {path: where for r in reversed(records) for path, where in r.asked_at.items()},
        )


def open_context(
    start: Path,
    *,
    overrides: Sequence[Override] = (),
    listener: Listener,
    carried: Mapping[str, Carried] | None = None,
    locks: LockCache | None = None,
    repeated: bool = False,
    previous: Derived | None = None,
) -> Context:
    """Load the project at or above `start` and everything commands need about it.

    A caller that loads the project again and again (run --watch) passes what the last load
    learnt: `carried` (`Fingerprinter.carry()`: source files by their exact text) and `locks`
    (parsed locks by the digest of their bytes); neither is trusted for a changed file.
    Such a caller says `repeated`: the pipeline is imported without the import watch (its
    hooks multiply the import's cost; the context has no `load`, which only a snapshot needs,
    and such a caller writes none), and the context keeps `derived`, which the next load takes
    as `previous`: an unchanged params.yaml is not parsed again, nor the graph built again
    when no stage's name, deps or outputs changed.
    """
    project = discovery.load_project(start)
    cache = StatCache.load(project.layout.stat_cache)

    def hash_file(path: str) -> str | None:
        found = hash_path(project.root, path, cache)
        return found.hash if found else None

    late: list[ImportRecord] = []

    def watched_import(name: str) -> types.ModuleType:
        if repeated:
            return importlib.import_module(name)
        with importwatch.watch(is_project_file) as late_recorder:
            try:
                return importlib.import_module(name)
            finally:
                late.append(late_recorder.record())

    fingerprinter = Fingerprinter(project.root, hash_file, watched_import, carried)

    def is_project_file(filename: str) -> bool:
        return fingerprinter.project.relpath(filename) is not None

    started = time.time_ns()
    recorder: importwatch.Recorder | None = None
    if not repeated:
        with importwatch.watch(is_project_file) as recorder:
            pipeline = discovery.load_pipeline(project)
    else:
        pipeline = discovery.load_pipeline(project)
    # Outside the watch: params.yaml is a snapshot source anyway, and its parse (10,000 stages:
    # 30,000 lines of YAML) would run under the watch's profile hook.
    specs = pipeline.specs
    text = read_params_text(project.root)
    file_values = _params_file(text, previous)
    resolved = resolve_params(specs, file_values, overrides)
    key = _graph_key(specs.values())
    dag = _graph(specs, key, previous)
    facts = None if overrides or recorder is None else LoadFacts(recorder.record(), started, late)
    derived = Derived(text, copy.deepcopy(file_values), key, dag) if repeated else None
    return Context(pipeline, dag, resolved, cache, listener, fingerprinter, facts, locks, derived)

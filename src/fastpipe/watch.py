"""`fastpipe run --watch`: run, then rerun what an edit made stale, on a pool kept alive.

After the first run this watches the project's files (watchfiles, imported here only) and,
for each debounced batch of changes that matter — a Python file of the project, params.yaml or
pyproject.toml, a dep of a selected stage; never an output, nor anything under `.fastpipe/` —
runs a cycle: the pipeline is imported again, only the stages whose manifest files include a
changed file (all of them when the pipeline module itself changed) are fingerprinted again,
and the runner reruns exactly what became stale on the same pool. The warm server re-imports
the project's modules only when project code changed, while the pipeline loads here. What a
cycle learnt is kept for the next only for content that is byte for byte the same: source
files (an unchanged pipeline.py is not parsed whole again), parsed locks. A cycle that cannot
load the pipeline reports its error and the watch goes on. Ctrl-C ends it (KeyboardInterrupt,
exit 130): the pool, and every stage process with it, is stopped by its context manager.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastpipe import discovery, executors, projectlock
from fastpipe.context import Context, Derived, open_context
from fastpipe.errors import FastpipeError
from fastpipe.events import Listener, Waiting
from fastpipe.fingerprint import Manifest
from fastpipe.fingerprint.sourceindex import Carried
from fastpipe.layout import STATE_DIR
from fastpipe.lockcache import LockCache
from fastpipe.params import PARAMS_FILE
from fastpipe.results import RunResult
from fastpipe.runner import RunOptions, execute, executor_settings

PARAMS_FILES = frozenset({PARAMS_FILE, "pyproject.toml"})
IGNORED_DIRS = frozenset({STATE_DIR, ".git", ".dvc", "__pycache__", ".venv", "venv"})
DEBOUNCE_MS = 30  # changes closer than this are one batch (an editor's write + rename)
STEP_MS = 10  # how often the batch is checked for being quiet
TIMEOUT_MS = 5_000  # how long one wait for changes lasts before it is taken up again


@dataclass(frozen=True)
class Cycle:
    """One run of the watch: what triggered it and how it went."""

    number: int  # 0: the first run
    changed: tuple[str, ...]  # project-relative paths (empty for the first run)
    result: RunResult | None  # None when the pipeline could not be loaded or run
    error: FastpipeError | None
    seconds: float


@dataclass(frozen=True)
class _State:
    """What the last good load knew: to classify changes and reuse fingerprints."""

    outputs: frozenset[str]
    deps: frozenset[str]
    pipeline_file: str
    manifests: Mapping[str, Manifest]


def watch(
    targets: Sequence[str],
    options: RunOptions,
    *,
    root: Path,
    listener: Listener,
    on_cycle: Callable[[Cycle], None],
    downstream: bool = False,
    stop: threading.Event | None = None,
) -> None:
    """Run `targets`, then a cycle per relevant change, until Ctrl-C (or `stop` is set)."""
    from watchfiles._rust_notify import RustNotify  # pyright: ignore[reportPrivateUsage]

    project = discovery.load_project(root)
    settings = executor_settings(project, options, listener)
    # watchfiles' own watch() starts watching only when first iterated, after the first run
    # here; its RustNotify, made first, collects what changes during any cycle for the next.
    with (
        RustNotify([str(project.root)], False, False, 300, True, False) as notify,
        executors.create(settings) as pool,
    ):
        cycles = _Cycles(project, targets, downstream, options, pool, listener, on_cycle)
        cycles.run((), preload=())
        while True:
            raw = notify.watch(DEBOUNCE_MS, STEP_MS, TIMEOUT_MS, stop)
            if raw == "signal":
                raise KeyboardInterrupt
            if raw == "stop":
                return
            if raw == "timeout":
                continue
            paths = (os.path.relpath(path, project.root) for _, path in raw)
            changed = relevant(paths, cycles.state)
            if changed:
                cycles.run(changed, preload=settings.preload)


@dataclass
class _Cycles:
    """The watch's cycles over one pool; `state` is what the last good load knew."""

    project: discovery.Project
    targets: Sequence[str]
    downstream: bool
    options: RunOptions
    pool: executors.StageExecutor
    listener: Listener
    on_cycle: Callable[[Cycle], None]
    state: _State | None = None
    count: int = 0
    # Changes since the last cycle that loaded: a cycle that failed leaves them to the next,
    # whose fingerprints must not be reused across them.
    unsettled: set[str] = field(default_factory=set[str])
    # Kept across cycles, each entry trusted only for the exact content it was made from:
    # source files by text (no reparse of an unchanged pipeline.py), locks by their bytes.
    carried: Mapping[str, Carried] = field(default_factory=dict[str, Carried])
    locks: LockCache = field(default_factory=lambda: LockCache(None, {}))
    derived: Derived | None = None  # params.yaml's parse and the graph, by what they came from

    def _waiting(self, message: str) -> None:
        self.listener(Waiting(message))

    def run(self, changed: tuple[str, ...], *, preload: Sequence[str]) -> None:
        """One cycle. When project code changed, the pool imports `preload` again while the
        pipeline loads here (a broken edit fails both; the error is the load's, and the fix's
        cycle reloads the pool again)."""
        start = time.perf_counter()
        number, self.count = self.count, self.count + 1
        layout = self.project.layout
        self.unsettled.update(changed)
        since = tuple(sorted(self.unsettled))
        reload = preload if any(path.endswith(".py") for path in since) else ()
        try:
            with projectlock.hold(layout.run_lock, wait=True, on_wait=self._waiting):
                # The warm server imports the edited code while the pipeline loads here (it
                # handles messages in order: stages submitted below wait for it).
                if reload:
                    self.pool.reload(reload)
                ctx = open_context(
                    self.project.root,
                    listener=self.listener,
                    carried=self.carried,
                    locks=self.locks,
                    repeated=True,
                    previous=self.derived,
                )
                self.derived = ctx.derived
                if self.state is not None:
                    _reuse_fingerprints(ctx, self.state, since)
                selection = ctx.select(self.targets, downstream=self.downstream)
                try:
                    result = execute(ctx, selection, self.options, self.pool)
                finally:
                    ctx.cache.save()
                    self.carried = ctx.fingerprinter.carry()
        except FastpipeError as error:
            self.on_cycle(Cycle(number, changed, None, error, time.perf_counter() - start))
            return
        self.state = _state_of(ctx)
        self.unsettled.clear()
        self.on_cycle(Cycle(number, changed, result, None, time.perf_counter() - start))


def relevant(paths: Iterable[str], state: _State | None) -> tuple[str, ...]:
    """The changed paths that can make a stage stale: project Python files, params files,
    deps; never outputs (or what is below an output directory), nor fastpipe's state."""
    found: set[str] = set()
    for raw in paths:
        path = Path(raw).as_posix()
        if path.startswith("../") or IGNORED_DIRS.intersection(path.split("/")):
            continue
        if state is not None and _under(path, state.outputs):
            continue
        if (
            path.endswith(".py")
            or path in PARAMS_FILES
            or state is None
            or _under(path, state.deps)
        ):
            found.add(path)
    return tuple(sorted(found))


def _under(path: str, roots: frozenset[str]) -> bool:
    return path in roots or any(path.startswith(f"{root}/") for root in roots)


def _reuse_fingerprints(ctx: Context, state: _State, changed: Sequence[str]) -> None:
    """Keep the manifest of every stage none of whose files changed; the pipeline module
    changing (definitions, decorators) fingerprints everything again."""
    touched = set(changed)
    if state.pipeline_file in touched:
        return
    for name in ctx.pipeline.stages:
        old = state.manifests.get(name)
        if old is not None and not touched.intersection(old.files):
            ctx.reuse_manifest(name, old)


def _state_of(ctx: Context) -> _State:
    specs = [ctx.spec(name) for name in ctx.pipeline.stages]
    module = ctx.pipeline.module
    pipeline_file = getattr(module, "__file__", None) or ""
    return _State(
        outputs=frozenset(path for spec in specs for path in spec.outputs),
        deps=frozenset(path for spec in specs for path in spec.deps),
        pipeline_file=os.path.relpath(pipeline_file, ctx.root) if pipeline_file else "",
        manifests={name: ctx.manifest(name, quiet=True) for name in ctx.pipeline.stages},
    )

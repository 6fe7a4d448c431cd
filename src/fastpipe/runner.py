"""One `fastpipe run`: decide each stage at dispatch, run it, record its lock.

The lock written for a stage holds the code and params it ran with and the dep hashes taken
when it was dispatched (not after it ran), so an input edited mid-run leaves it stale.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

from fastpipe import executors, graph, iowatch, runrecord, sourcestore
from fastpipe.context import Context
from fastpipe.devices import Device, DeviceError, DeviceSource, NvmlDevices
from fastpipe.discovery import Project
from fastpipe.events import (
    Listener,
    RunStarted,
    StageFinished,
    StageOutput,
    StageRetrying,
    StagesBlocked,
    StageSkipped,
    StageStarted,
    WarningIssued,
)
from fastpipe.executors import ExecutorSettings
from fastpipe.hashing import FileHash
from fastpipe.lockcache import LockCache
from fastpipe.lockfile import LockEntry
from fastpipe.lockwriter import LockWriter
from fastpipe.placement import ClusterPlacement, Placement, check_needs
from fastpipe.results import Outcome, RunResult, StageRun
from fastpipe.scheduler import Plan, run_plan
from fastpipe.staleness import Reason, compare
from fastpipe.worker import StageResult, StageTask, is_importable

if TYPE_CHECKING:
    from fastpipe.executors.warm import WarmExecutor

_OUTPUT_LINE = re.compile(r"^\[([A-Za-z0-9_.@-]+)\] (.*)$")


@dataclass(frozen=True)
class RunOptions:
    force: bool = False
    jobs: int = 1
    executor: str = "inline"
    keep_going: bool = False
    resources: Mapping[str, float] = field(default_factory=dict[str, float])  # capacities
    devices: DeviceSource | None = None  # where GPUs come from (default: NVML)
    dask_address: str | None = None  # the dask executor's scheduler (None: a LocalCluster)
    strict_io: bool = False  # a stage that opens undeclared files fails (else: a warning)


class _Run:
    """The callbacks the scheduler drives, and what they learn along the way."""

    def __init__(self, ctx: Context, options: RunOptions, placement: Placement) -> None:
        self.ctx = ctx
        self.options = options
        self.placement = placement
        self.reasons: dict[str, tuple[Reason, ...]] = {}
        self.dispatched_deps: dict[str, Mapping[str, FileHash | None]] = {}
        self.results: dict[str, StageResult] = {}
        self.locks = LockWriter()

    def capacity(self, name: str) -> bool:
        return self.placement.fits(self.ctx.spec(name))

    def decide(self, name: str) -> StageTask | None:
        ctx = self.ctx
        ctx.forget_lock(name)
        observed = ctx.observe(name)
        reasons = compare(ctx.lock(name), observed)
        if not reasons and not self.options.force:
            ctx.listener(StageSkipped(name))
            return None
        self.reasons[name] = reasons
        self.dispatched_deps[name] = observed.deps
        # From here until a new lock is written, the old one would vouch for outputs that are
        # about to be deleted or rewritten: it moves aside (explain still compares with it).
        layout = ctx.pipeline.project.layout
        lock = layout.lock_path(name)
        if lock.exists():
            layout.unfinished_lock_path(name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(lock, layout.unfinished_lock_path(name))
        ctx.forget_lock(name)
        grant = self.placement.acquire(ctx.spec(name))
        ctx.listener(StageStarted(name, reasons, forced=not reasons))
        return self._task(name, grant.env)

    def _task(self, name: str, env: Mapping[str, str]) -> StageTask:
        stage = self.ctx.pipeline.stages[name]
        spec = stage.spec
        layout = self.ctx.pipeline.project.layout
        pickled = None
        if not is_importable(stage.func, spec.module, spec.qualname):
            import cloudpickle

            pickled = cloudpickle.dumps(stage.func)
        return StageTask(
            name=name,
            module=spec.module,
            qualname=spec.qualname,
            root=str(self.ctx.root),
            params=dict(self.ctx.params[name]),
            outputs=spec.outputs,
            persist=spec.persist,
            log_path=str(layout.log_path(name)),
            env=dict(env),
            pickled=pickled,
            timeout=spec.timeout,
            dispatched_at=time.time(),
        )

    def retrying(self, result: StageResult, attempt: int, attempts: int) -> None:
        self.ctx.listener(StageRetrying(result.name, attempt, attempts, result.error))

    def finish(self, result: StageResult) -> StageResult:
        name = result.name
        self.placement.release(name)
        if result.ok:
            result = self._record(result)
        self.results[name] = result
        self.ctx.listener(StageFinished(name, result.ok, result.duration, result.error))
        return result

    def _record(self, result: StageResult) -> StageResult:
        ctx = self.ctx
        name = result.name
        deps = self.dispatched_deps[name]
        missing = [p for p, h in deps.items() if h is None]
        if missing:
            return _failed(result, f"stage '{name}' ran without its deps {', '.join(missing)}")
        ctx.cache.merge(result.stat_entries)
        spec = ctx.spec(name)
        found = iowatch.undeclared(
            result.opened,
            spec.deps,
            spec.outputs,
            ctx.manifest(name).files,
            ctx.pipeline.project.config.io_ignore,
        )
        for message in found.messages(name):
            ctx.listener(WarningIssued(message))
        if found and self.options.strict_io:
            return _failed(result, f"stage '{name}' opened undeclared files (--strict-io)")
        entry = LockEntry(
            stage=name,
            code=dict(ctx.manifest(name).items),
            params=dict(ctx.params[name]),
            deps={p: h for p, h in deps.items() if h is not None},
            outs=dict(result.outputs),
            packages=ctx.packages(name),
        )
        layout = ctx.pipeline.project.layout
        self.locks.write(layout.lock_path(name), entry, layout.unfinished_lock_path(name))
        manifest = ctx.manifest(name)
        sourcestore.store(layout, manifest.items, manifest.source)  # for `explain --diff`
        ctx.forget_lock(name)
        return result


def _failed(result: StageResult, error: str) -> StageResult:
    return StageResult(result.name, False, duration=result.duration, error=error)


def start_warm(project: Project, listener: Listener) -> WarmExecutor:
    """Start the warm server early: its imports overlap loading the pipeline here."""
    from fastpipe.executors.warm import WarmExecutor

    def failed(module: str, error: str) -> None:
        listener(WarningIssued(executors.preload_failure(module, error)))

    config = project.config
    return WarmExecutor(
        str(project.root),
        (*config.preload, config.pipeline),
        lambda line: listener(_output_event(line)),
        failed,
    )


def execute(
    ctx: Context,
    selection: Sequence[str],
    options: RunOptions,
    warm: WarmExecutor | None = None,
) -> RunResult:
    """Run the stale stages of `selection` (all of them with `force`).

    `warm`, a warm executor started early (start_warm), is used instead of a new one.
    """
    graph.check_deps_exist(ctx.graph, selection, ctx.root)
    placement = _placement(ctx, selection, options)
    for name in selection:
        ctx.manifest(name)  # fingerprint everything first: warnings come before any output
    layout = ctx.pipeline.project.layout
    layout.ensure()
    chosen = set(selection)
    successors = {n: [s for s in ctx.graph.successors(n) if s in chosen] for n in selection}
    records = runrecord.load(layout.run_record)
    durations = {n: r.duration for n, r in records.items()}
    plan = Plan(
        order=list(selection),
        successors=successors,
        priority=runrecord.longest_remaining(selection, successors, durations),
        retries={n: ctx.spec(n).retries for n in selection},
    )
    run = _Run(ctx, options, placement)
    # The inline executor runs a stage inside submit(): more than one "at a time" would only
    # dispatch past a failure before the scheduler sees it.
    jobs = 1 if options.executor == "inline" else max(1, options.jobs)
    ctx.listener(RunStarted(tuple(selection), options.executor, jobs))
    settings = ExecutorSettings(
        name=options.executor,
        jobs=jobs,
        root=str(ctx.root),
        preload=_preload(ctx, selection),
        on_output=lambda line: ctx.listener(_output_event(line)),
        on_warning=lambda message: ctx.listener(WarningIssued(message)),
        dask_address=options.dask_address,
        specs={n: ctx.spec(n) for n in selection},
    )
    if warm is not None:
        warm.preload([m for m in settings.preload if m.startswith("?")])
    try:
        with warm or executors.create(settings) as pool:
            outcomes = run_plan(
                plan,
                pool,
                run.decide,
                run.finish,
                jobs=jobs,
                keep_going=options.keep_going,
                capacity=run.capacity,
                on_retry=run.retrying,
            )
    finally:
        unwritten = run.locks.close()
        _save_records(layout.run_record, records, run.results)
        _cache_locks(layout.lock_cache, run.locks.written())
    for name, why in unwritten.items():
        ctx.listener(WarningIssued(f"stage '{name}' ran but its lock could not be written: {why}"))
        outcomes[name] = Outcome.FAILED
    _report_blocked(ctx, selection, outcomes)
    return RunResult(tuple(_stage_run(n, outcomes[n], run) for n in selection))


def _cache_locks(path: Path, written: Sequence[tuple[Path, bytes, LockEntry]]) -> None:
    """Add the locks just written to the lock cache: the next status need not parse them."""
    if not written:
        return
    cache = LockCache.load(path)
    for lock, data, entry in written:
        cache.remember(lock, data, entry)
    cache.save()


def _preload(ctx: Context, selection: Sequence[str]) -> tuple[str, ...]:
    """What the warm server imports: the config's list, the pipeline, and library modules
    the stages use that importing the pipeline leaves unloaded (numpy.random, say)."""
    config = ctx.pipeline.project.config
    libraries = {lib for name in selection for lib in ctx.manifest(name).libraries}
    return (*config.preload, config.pipeline, *sorted(f"?{lib}" for lib in libraries))


def _placement(ctx: Context, selection: Sequence[str], options: RunOptions) -> Placement:
    """The run's placement; refuses stages that need more GPUs or resources than exist."""
    if executors.cluster_places(options.executor, options.dask_address):
        return ClusterPlacement()  # the cluster's workers say what they have, not this machine
    specs = [ctx.spec(n) for n in selection]
    capacities = {**dict(ctx.pipeline.project.config.resources), **options.resources}
    devices: list[Device] = []
    why = ""
    if any(s.gpus for s in specs):
        try:
            devices = (options.devices or NvmlDevices()).devices()
        except DeviceError as exc:
            why = str(exc)
    check_needs(specs, len(devices), capacities, why)
    return Placement(devices, capacities)


def _save_records(
    path: Path, records: dict[str, runrecord.StageRecord], results: Mapping[str, StageResult]
) -> None:
    for name, result in results.items():
        if result.ok:
            records[name] = runrecord.StageRecord(result.duration, result.peak_gpu_memory)
    if results:
        runrecord.save(path, records)


def _output_event(line: str) -> StageOutput:
    match = _OUTPUT_LINE.match(line)
    if match is None:
        return StageOutput(None, line)
    return StageOutput(match.group(1), match.group(2))


def _report_blocked(ctx: Context, selection: Sequence[str], outcomes: dict[str, Outcome]) -> None:
    failed = {n for n in selection if outcomes[n] is Outcome.FAILED}
    below_failure: set[str] = set()
    for name in failed:
        below_failure |= nx.descendants(ctx.graph, name)
    blocked = [n for n in selection if outcomes[n] is Outcome.NOT_RUN]
    upstream = tuple(n for n in blocked if n in below_failure)
    stopped = tuple(n for n in blocked if n not in below_failure)
    if upstream:
        ctx.listener(StagesBlocked(upstream, "an upstream stage failed"))
    if stopped:
        ctx.listener(StagesBlocked(stopped, "stopped after a failure; --keep-going runs them"))


def _stage_run(name: str, outcome: Outcome, run: _Run) -> StageRun:
    result = run.results.get(name)
    return StageRun(
        name,
        outcome,
        run.reasons.get(name, ()),
        result.duration if result else None,
        result.error if result else None,
    )


def default_jobs() -> int:
    """One stage per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)

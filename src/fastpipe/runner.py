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

import networkx as nx

from fastpipe import graph, iowatch, runhistory, runrecord
from fastpipe.context import Context
from fastpipe.devices import Device, DeviceError, DeviceSource, NvmlDevices
from fastpipe.discovery import Project
from fastpipe.events import (
    Listener,
    RunStarted,
    StageFinished,
    StageOutput,
    StageRestored,
    StageRetrying,
    StagesBlocked,
    StageSkipped,
    StageStarted,
    WarningIssued,
)
from fastpipe.executors import Capabilities, ExecutorSettings, StageExecutor
from fastpipe.hashing import FileHash
from fastpipe.lockfile import LockEntry, LockRead
from fastpipe.objects import CorruptObjectError
from fastpipe.placement import ClusterPlacement, Placement, check_needs
from fastpipe.results import Outcome, RunResult, StageRun
from fastpipe.runcache import run_key
from fastpipe.scheduler import Plan, run_plan
from fastpipe.staleness import Observed, Reason, compare
from fastpipe.store import StateStore, restorable
from fastpipe.worker import StageResult, StageTask, is_importable

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
    no_run_cache: bool = False  # never restore a stale stage from the run cache
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
        self.started = time.time()
        self.times: dict[str, tuple[float, float]] = {}  # dispatched, finished (time.time())
        self.slots: dict[str, int] = {}
        self.gpus: dict[str, str] = {}
        self.restored: dict[str, str] = {}  # stage -> how its outs came back
        self.store = StateStore(ctx.pipeline.project)

    def capacity(self, name: str) -> bool:
        return self.placement.fits(self.ctx.spec(name))

    def decide(self, name: str) -> StageTask | None:
        ctx = self.ctx
        ctx.forget_lock(name)
        observed = ctx.observe(name)
        lock = ctx.lock(name)
        reasons = compare(lock, observed)
        if not reasons and not self.options.force:
            ctx.listener(StageSkipped(name))
            return None
        self.reasons[name] = reasons
        self.dispatched_deps[name] = observed.deps
        if not self.options.force and self._restored(name, lock, reasons, observed):
            return None
        self.store.begin(name)
        ctx.forget_lock(name)
        grant = self.placement.acquire(ctx.spec(name))
        if "CUDA_VISIBLE_DEVICES" in grant.env:
            self.gpus[name] = grant.env["CUDA_VISIBLE_DEVICES"]
        ctx.listener(StageStarted(name, reasons, forced=not reasons))
        task = self._task(name, grant.env)
        self.times[name] = (task.dispatched_at, task.dispatched_at)
        return task

    def _restored(
        self, name: str, lock: LockRead, reasons: tuple[Reason, ...], observed: Observed
    ) -> bool:
        """Restore the stage's outs from the cache instead of running it, if it can be."""
        if restorable(self.store.objects, lock, reasons):
            assert lock.entry is not None
            missing = {p: lock.entry.outs[p] for r in reasons for p in r.items}
            return self._restore(name, missing, "missing outputs from the cache", None)
        key = self._run_key(name, observed.deps)
        if key is None or self.options.no_run_cache:
            return False
        outs = self.store.runs.get(key, name)
        if outs is None or set(outs) != set(self.ctx.spec(name).outputs):
            return False
        if not all(self.store.objects.has(h.hash) for h in outs.values()):
            return False
        from fastpipe.verify import is_nondeterministic

        if is_nondeterministic(self.ctx.pipeline.project.layout, name):
            self.ctx.listener(
                WarningIssued(
                    f"stage '{name}': restoring its outputs from the run cache, although "
                    "`fastpipe verify` found them nondeterministic (--no-run-cache reruns it)"
                )
            )
        return self._restore(name, outs, "from run cache", self._entry(name, outs))

    def _restore(
        self, name: str, outs: Mapping[str, FileHash], detail: str, entry: LockEntry | None
    ) -> bool:
        try:
            self.store.restore(outs, self.ctx.cache)
        except FileNotFoundError:
            return False
        except CorruptObjectError as exc:
            self.store.drop_corrupt(exc.digest)
            self.ctx.listener(
                WarningIssued(f"{exc}: removed it from the cache; stage '{name}' runs instead")
            )
            return False
        if entry is not None:
            self.store.commit(entry)
            self.ctx.forget_lock(name)
        self.restored[name] = detail
        self.ctx.listener(StageRestored(name, detail))
        return True

    def _run_key(self, name: str, deps: Mapping[str, FileHash | None]) -> str | None:
        """The stage's run-cache key, or None where the run cache does not apply."""
        spec = self.ctx.spec(name)
        if spec.persist or not spec.outputs or any(not spec.is_cached(o) for o in spec.outputs):
            return None
        if any(h is None for h in deps.values()):
            return None
        known = {p: h for p, h in deps.items() if h is not None}
        outs = [(o, True) for o in spec.outputs]
        return run_key(self.ctx.manifest(name).items, self.ctx.params[name], known, outs)

    def _entry(self, name: str, outs: Mapping[str, FileHash]) -> LockEntry:
        deps = self.dispatched_deps[name]
        return LockEntry(
            stage=name,
            code=dict(self.ctx.manifest(name).items),
            params=dict(self.ctx.params[name]),
            deps={p: h for p, h in deps.items() if h is not None},
            outs=dict(outs),
            packages=self.ctx.packages(name),
        )

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
            cache_dir=str(self.store.objects.root),
            cached=spec.cached,
            cache_link=self.store.objects.link.value,
        )

    def retrying(self, result: StageResult, attempt: int, attempts: int) -> None:
        self.ctx.listener(StageRetrying(result.name, attempt, attempts, result.error))

    def finish(self, result: StageResult) -> StageResult:
        name = result.name
        self.placement.release(name)
        self.times[name] = (self.times[name][0], time.time())
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
        entry = self._entry(name, result.outputs)
        self.store.commit(entry)
        manifest = ctx.manifest(name)
        self.store.remember_sources(manifest.items, manifest.definition)
        ctx.forget_lock(name)
        key = self._run_key(name, deps)
        if key is not None:
            self.store.remember_run(key, name, result.outputs)
        return result


def _failed(result: StageResult, error: str) -> StageResult:
    return StageResult(result.name, False, duration=result.duration, error=error)


def executor_settings(
    project: Project, options: RunOptions, listener: Listener
) -> ExecutorSettings:
    """What `executors.create` needs for `options`, known before the pipeline is loaded.

    The warm server imports the config's preloads and the pipeline module as soon as it
    starts, overlapping the pipeline's import here; the library modules the stages use
    follow through `warm_up`, once they are fingerprinted.
    """
    config = project.config
    return ExecutorSettings(
        name=options.executor,
        jobs=max(1, options.jobs),
        root=str(project.root),
        preload=(*config.preload, config.pipeline),
        on_output=lambda line: listener(_output_event(line)),
        on_warning=lambda message: listener(WarningIssued(message)),
        dask_address=options.dask_address,
    )


def execute(
    ctx: Context, selection: Sequence[str], options: RunOptions, pool: StageExecutor
) -> RunResult:
    """Run the stale stages of `selection` (all of them with `force`) on `pool`.

    The pool is the caller's: it was created before (`executors.create`) and outlives this
    run (`--watch` runs again on it); execute never creates or shuts one down.
    """
    graph.check_deps_exist(ctx.graph, selection, ctx.root)
    placement = _placement(ctx, selection, options, pool.capabilities)
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
    jobs = max(1, options.jobs) if pool.capabilities.concurrent else 1
    ctx.listener(RunStarted(tuple(selection), options.executor, jobs, pool.capabilities.isolated))
    pool.warm_up(_libraries(ctx, selection), {n: ctx.spec(n) for n in selection})
    try:
        outcomes = run_plan(
            plan,
            pool,
            run.decide,
            run.finish,
            jobs=jobs,
            keep_going=options.keep_going,
            capacity=run.capacity,
            on_retry=run.retrying,
            on_slot=run.slots.__setitem__,
        )
    finally:
        unwritten = run.store.close(
            {n: (r.duration, r.peak_gpu_memory) for n, r in run.results.items() if r.ok}
        )
    for name in run.restored:
        outcomes[name] = Outcome.RESTORED
    for name, why in unwritten.items():
        ctx.listener(WarningIssued(f"stage '{name}' ran but its lock could not be written: {why}"))
        outcomes[name] = Outcome.FAILED
    _report_blocked(ctx, selection, outcomes)
    run_id = _record_run(run, selection, successors, outcomes, jobs)
    return RunResult(tuple(_stage_run(n, outcomes[n], run) for n in selection), run_id)


def _record_run(
    run: _Run,
    selection: Sequence[str],
    successors: Mapping[str, Sequence[str]],
    outcomes: Mapping[str, Outcome],
    jobs: int,
) -> str | None:
    """Write the run to the run history; its id (None if it could not be written)."""
    stages: list[runhistory.StageEntry] = []
    for name in selection:
        result = run.results.get(name)
        start, end = run.times.get(name, (None, None))
        reasons = run.reasons.get(name, ())
        stages.append(
            runhistory.StageEntry(
                name=name,
                outcome=outcomes[name].value,
                reasons=tuple(r.kind.value for r in reasons),
                why=runhistory.why(reasons) if name in run.times else "",
                start=None if start is None else round(start - run.started, 6),
                end=None if end is None else round(end - run.started, 6),
                duration=None if result is None else round(result.duration, 6),
                slot=run.slots.get(name),
                peak_rss=result.peak_rss if result else None,
                gpus=run.gpus.get(name),
                peak_gpu_memory=result.peak_gpu_memory if result else None,
                error=_last_line(result.error) if result else None,
            )
        )
    record = runhistory.RunRecord(
        run_id=runhistory.new_run_id(run.started),
        command=runhistory.command_line(),
        started=run.started,
        ended=time.time(),
        jobs=jobs,
        executor=run.options.executor,
        stages=tuple(stages),
        edges=tuple((a, b) for a in selection for b in successors.get(a, ())),
    )
    try:
        runhistory.save(run.ctx.pipeline.project.layout.state, record)
    except OSError as exc:
        run.ctx.listener(WarningIssued(f"the run could not be recorded in the history: {exc}"))
        return None
    return record.run_id


def _last_line(error: str | None) -> str | None:
    """The line of an error that says what went wrong (a traceback's last line)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def _libraries(ctx: Context, selection: Sequence[str]) -> list[str]:
    """Library modules the stages use that importing the pipeline may leave unloaded
    (numpy.random, say): the warm server imports them ahead."""
    return sorted({lib for name in selection for lib in ctx.manifest(name).libraries})


def _placement(
    ctx: Context, selection: Sequence[str], options: RunOptions, capabilities: Capabilities
) -> Placement:
    """The run's placement; refuses stages that need more GPUs or resources than exist."""
    if not capabilities.local_placement:
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
        run.restored.get(name),
    )


def default_jobs() -> int:
    """One stage per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)

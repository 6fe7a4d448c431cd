"""What the CLI and users call: run(), status(), explain() and friends, returning values.

Every function takes `root=` (default: the working directory; the project is found at or above
it, as the CLI finds it) and keyword options named like the CLI flags. User mistakes raise
`FastpipeError` subclasses; a stage that fails is a result (docs/api.md).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fastpipe import discovery, fastpath, freshcert, projectlock
from fastpipe.errors import ExecutorError, FastpipeError, FastpipeWarning, ProjectError
from fastpipe.events import Event, FastPathOff, Listener, StageSkipped, Waiting, WarningIssued
from fastpipe.layout import Layout
from fastpipe.results import Outcome, RunResult, StageRun
from fastpipe.staleness import StageStatus

# The fast path (a no-op `run`, `status`) must not pay for networkx, the fingerprinting
# machinery or the executors: the modules that need them are imported by the slow paths.
if TYPE_CHECKING:
    from fastpipe.accept import Accepted
    from fastpipe.checkout import CheckoutReport
    from fastpipe.compare import Diff, Values
    from fastpipe.context import Context
    from fastpipe.devices import DeviceSource
    from fastpipe.executors.base import StageExecutor
    from fastpipe.export.adopt import ImportReport
    from fastpipe.export.dvcyaml import ExportResult
    from fastpipe.export.validate import ValidationReport
    from fastpipe.gc import GcReport
    from fastpipe.params import Override
    from fastpipe.plots import PlotsPage
    from fastpipe.revision import GetResult
    from fastpipe.runhistory import RunRecord
    from fastpipe.runner import RunOptions
    from fastpipe.sourcestore import SourceDiff
    from fastpipe.stage import StageSpec
    from fastpipe.verify import Verified
    from fastpipe.watch import Cycle
    from fastpipe.worker import StageResult

DASK_ADDRESS_ENV = "FASTPIPE_DASK_ADDRESS"  # after --dask-address, before [tool.fastpipe]

SAMPLE_PIPELINE = '''\
"""A fastpipe pipeline: each @stage function is a step; fastpipe runs only what changed."""

from pathlib import Path

from fastpipe import stage


@stage(outs=["data/numbers.txt"])
def generate(count: int = 10) -> None:
    Path("data").mkdir(exist_ok=True)
    Path("data/numbers.txt").write_text("\\n".join(str(i) for i in range(count)) + "\\n")


@stage(deps=["data/numbers.txt"], metrics=["metrics.json"])
def summarize() -> None:
    numbers = [int(line) for line in Path("data/numbers.txt").read_text().split()]
    Path("metrics.json").write_text(f'{{"total": {sum(numbers)}}}\\n')
'''


__all__ = [  # FastpipeWarning is re-exported for callers that imported it from here
    "FastpipeWarning",
    "InitResult",
    "StageInfo",
    "StatusReport",
    "dag",
    "exec_stage",
    "explain",
    "export",
    "import_dvc",
    "init",
    "list_stages",
    "run",
    "status",
    "validate_export",
]

Root = Path | str | None


@dataclass(frozen=True)
class StatusReport:
    """`status`: every selected stage, fresh or stale with reasons."""

    stages: tuple[StageStatus, ...]

    @property
    def stale(self) -> list[str]:
        return [s.name for s in self.stages if s.stale]


@dataclass(frozen=True)
class InitResult:
    """`init`: the project root and what was created there (`.fastpipe/`, `pipeline.py`)."""

    root: Path
    created: tuple[str, ...]


def _warn(event: Event) -> None:
    if isinstance(event, WarningIssued):
        warnings.warn(event.message, FastpipeWarning, stacklevel=3)


def _start(root: Root) -> Path:
    return Path(root) if root is not None else Path()


def _targets(targets: Sequence[str] | str) -> Sequence[str]:
    return [targets] if isinstance(targets, str) else targets  # run("train") means ["train"]


def _overrides(values: Mapping[str, object] | None) -> list[Override]:
    """`{"train.lr": 0.1}` -> overrides, checked as `--set` is."""
    if not values:
        return []
    from fastpipe.params import override

    return [override(key, value) for key, value in values.items()]


def _context(root: Root, listener: Listener | None, overrides: Sequence[Override] = ()) -> Context:
    from fastpipe.context import open_context

    return open_context(_start(root), overrides=overrides, listener=listener or _warn)


def run(
    targets: Sequence[str] | str = (),
    *,
    root: Root = None,
    force: bool = False,
    dry_run: bool = False,
    jobs: int | None = None,
    executor: str | None = None,
    keep_going: bool = False,
    downstream: bool = False,
    params: Mapping[str, object] | None = None,
    wait: bool = True,
    resources: Mapping[str, float] | None = None,
    dask_address: str | None = None,
    no_run_cache: bool = False,
    listener: Listener | None = None,
    devices: DeviceSource | None = None,
    strict_io: bool = False,
) -> RunResult:
    """Run the stale stages among `targets` (default: all) and their upstream.

    `params` overrides params as `--set` does: `{"train.lr": 0.1}` (values are Python objects,
    checked against the annotations). A stage that fails is in the result, not raised.
    """
    notify = listener or _warn
    targets = _targets(targets)
    overrides = _overrides(params)
    project = discovery.load_project(_start(root))
    if dry_run:
        from fastpipe import graph

        ctx = _context(project.root, notify, overrides)
        selection = ctx.select(targets, downstream=downstream)
        graph.check_deps_exist(ctx.graph, selection, ctx.root)
        fastpath.remember(ctx)
        return _dry_run(ctx, selection, force)
    layout = Layout(project.root)
    with projectlock.hold(layout.run_lock, wait=wait, on_wait=lambda m: notify(Waiting(m))):
        if not force and not overrides:
            started = time.time()
            nothing_to_do = _nothing_to_run(project, targets, downstream, notify)
            if nothing_to_do is not None:
                return _recorded(layout, nothing_to_do, started)
        from fastpipe import executors
        from fastpipe.runner import RunOptions, default_jobs, executor_settings

        name = _executor_name(executor, dask_address, project.config.executor)
        options = RunOptions(
            force=force,
            jobs=jobs or project.config.jobs or default_jobs(),
            executor=name,
            keep_going=keep_going,
            resources=dict(resources or {}),
            devices=devices,
            dask_address=dask_address or _env_dask_address() or project.config.dask_address,
            no_run_cache=no_run_cache,
            strict_io=strict_io or project.config.strict_io,
        )
        # The pool is this call's: created before the pipeline is loaded here, so that the
        # warm server's imports overlap ours; a run that fails or is interrupted stops it.
        # What the pool reports waits until our load succeeded (a broken pipeline.py is
        # reported alone).
        from_pool = _Held(notify)
        with executors.create(executor_settings(project, options, from_pool)) as pool:
            ctx = _context(project.root, notify, overrides)
            from_pool.release()
            return _execute(ctx, targets, downstream, pool, options)


def watch(
    targets: Sequence[str] = (),
    *,
    root: Root = None,
    jobs: int | None = None,
    executor: str | None = None,
    keep_going: bool = False,
    downstream: bool = False,
    listener: Listener | None = None,
    on_cycle: Callable[[Cycle], None] = lambda _cycle: None,
    dask_address: str | None = None,
    stop: threading.Event | None = None,
) -> None:
    """`run --watch`: run `targets`, then rerun what each edit makes stale, until Ctrl-C
    (KeyboardInterrupt) or `stop` is set; `on_cycle` hears how each cycle went."""
    from fastpipe.runner import RunOptions, default_jobs
    from fastpipe.watch import watch as watch_project

    project = discovery.load_project(_start(root))
    name = _executor_name(executor, dask_address, project.config.executor)
    options = RunOptions(
        jobs=jobs or project.config.jobs or default_jobs(),
        executor=name,
        keep_going=keep_going,
        dask_address=dask_address or _env_dask_address() or project.config.dask_address,
    )
    watch_project(
        targets,
        options,
        root=project.root,
        listener=listener or _warn,
        on_cycle=on_cycle,
        downstream=downstream,
        stop=stop,
    )


class _Held:
    """A listener that holds events until `release()`, then passes them on (and all later)."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._held: list[Event] | None = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(event)
                return
        self._listener(event)

    def release(self, only: type | None = None) -> None:
        """Pass on the held events (with `only`, those of that type; the rest are dropped),
        then every later one."""
        with self._lock:
            held, self._held = self._held or [], None
        for event in held:
            if only is None or isinstance(event, only):
                self._listener(event)


def _execute(
    ctx: Context,
    targets: Sequence[str],
    downstream: bool,
    pool: StageExecutor,
    options: RunOptions,
) -> RunResult:
    from fastpipe.runner import execute

    selection = ctx.select(targets, downstream=downstream)
    fastpath.remember(ctx)
    try:
        return execute(ctx, selection, options, pool)
    finally:
        ctx.cache.save()


def _recorded(layout: Layout, result: RunResult, started: float) -> RunResult:
    """`result`, of a run that found everything fresh, written to the run history."""
    from fastpipe import runhistory

    names = [s.name for s in result.stages]
    return RunResult(result.stages, runhistory.record_fresh(layout.state, names, started))


def _nothing_to_run(
    project: discovery.Project, targets: Sequence[str], downstream: bool, notify: Listener
) -> RunResult | None:
    """The run's result if a trusted snapshot shows every selected stage fresh, else None.

    When it is not, the full load reports the same warnings (code, locks): the fast path's
    are dropped, so that each is printed once. Why the fast path is off is said only here.
    """
    started_ns = time.time_ns()
    held = _Held(notify)
    view = fastpath.open_view(project, held)
    if view is None:
        held.release(only=FastPathOff)
        return None
    selection = view.select(targets, downstream=downstream)
    found = view.statuses(selection)
    view.save()
    if any(s.stale for s in found):
        return None
    if not targets and not downstream:
        freshcert.remember(view, found, started_ns)
    held.release()
    for name in selection:
        notify(StageSkipped(name))
    return RunResult(tuple(StageRun(name, Outcome.FRESH) for name in selection))


def _executor_name(given: str | None, dask_address: str | None, configured: str | None) -> str:
    """The executor to use: an explicit dask_address alone means dask."""
    from fastpipe import executors

    name = given or ("dask" if dask_address else None) or configured or executors.DEFAULT
    if dask_address and name != "dask":
        raise ExecutorError(f"--dask-address is for --executor dask, not '{name}'")
    return name


def _env_dask_address() -> str | None:
    return os.environ.get(DASK_ADDRESS_ENV) or None


def _dry_run(ctx: Context, selection: list[str], force: bool) -> RunResult:
    stages: list[StageRun] = []
    for status in ctx.statuses(selection):
        would_run = force or status.stale
        outcome = Outcome.WOULD_RUN if would_run else Outcome.FRESH
        stages.append(StageRun(status.name, outcome, status.reasons))
    ctx.cache.save()
    return RunResult(tuple(stages))


def status(
    targets: Sequence[str] | str = (),
    *,
    root: Root = None,
    downstream: bool = False,
    listener: Listener | None = None,
) -> StatusReport:
    """Whether each selected stage (default: all) is fresh or stale, and why."""
    started_ns = time.time_ns()
    notify = listener or _warn
    targets = _targets(targets)
    project = discovery.load_project(_start(root))
    view = fastpath.open_view(project, notify)
    if view is not None:
        found = view.statuses(view.select(targets, downstream=downstream))
        view.save()
        if not targets and not downstream:
            freshcert.remember(view, found, started_ns)
        return StatusReport(tuple(found))
    ctx = _context(project.root, notify)
    report = StatusReport(tuple(ctx.statuses(ctx.select(targets, downstream=downstream))))
    fastpath.remember(ctx)
    ctx.cache.save()
    return report


def explain(stage: str, *, root: Root = None, listener: Listener | None = None) -> StageStatus:
    """Why `stage` is stale, in detail (old and new values of every changed item)."""
    ctx = _context(root, listener)
    selection = ctx.select([stage])
    found = {s.name: s for s in ctx.statuses(selection)}
    ctx.cache.save()
    if stage not in found:  # a matrix stage's base name, or a glob: explain is per variant
        from fastpipe.targets import expand

        named = ", ".join(expand([stage], selection))
        raise FastpipeError(f"'{stage}' names several stages ({named}); explain one of them")
    return found[stage]


def explain_diff(
    stage: str, *, root: Root = None, listener: Listener | None = None
) -> tuple[StageStatus, tuple[SourceDiff, ...]]:
    """`explain` plus a unified diff of the normalized source of each changed function or
    class (`explain STAGE --diff`); the old source is read from the local source store."""
    from fastpipe import sourcestore
    from fastpipe.staleness import ReasonKind

    ctx = _context(root, listener)
    found = {s.name: s for s in ctx.statuses(ctx.select([stage]))}
    ctx.cache.save()
    status = found[stage]
    manifest = ctx.manifest(stage, quiet=True)
    layout = ctx.pipeline.project.layout
    diffs = tuple(
        d
        for r in status.reasons
        if r.kind is ReasonKind.CODE
        for d in sourcestore.diffs(layout, r.changes, r.old, r.new, manifest.source)
    )
    return status, diffs


@dataclass(frozen=True)
class StageInfo:
    """A stage as `list` shows it: its spec and its params as resolved now."""

    spec: StageSpec
    params: Mapping[str, Any]


def list_stages(*, root: Root = None) -> tuple[StageInfo, ...]:
    """Every stage with its resolved params, in topological order."""
    from fastpipe import graph

    ctx = _context(root, None)
    return tuple(StageInfo(ctx.spec(n), ctx.params[n]) for n in graph.topological_order(ctx.graph))


def dag(*, root: Root = None, format: str = "ascii") -> str:
    """The pipeline graph rendered as `ascii`, `mermaid` or `dot`."""
    from fastpipe import graph

    renderers = {"ascii": graph.to_ascii, "mermaid": graph.to_mermaid, "dot": graph.to_dot}
    if format not in renderers:
        raise FastpipeError(f"unknown dag format '{format}' (use ascii, mermaid or dot)")
    project = discovery.load_project(_start(root))
    pipeline = discovery.load_pipeline(project)
    # A matrix stage is drawn once, its variants grouped: `train@{cnn-0,cnn-1,...}`.
    return renderers[format](graph.group_variants(graph.build_graph(pipeline.specs.values())))


def init(*, root: Root = None) -> InitResult:
    """Create .fastpipe/ (and the directory), and a sample pipeline.py if it is empty.

    Empty means: nothing but hidden entries (`.git`, `.venv`, `.fastpipe`...). An existing
    project's files are never joined by a sample pipeline (docs/guide.md).
    """
    where = _start(root).resolve()
    with contextlib.suppress(ProjectError):
        existing = discovery.find_root(where)
        if existing != where:
            raise ProjectError(
                f"'{where}' is inside the fastpipe project at '{existing}'; "
                "run fastpipe there (or init with -C to a directory outside it)"
            )
    where.mkdir(parents=True, exist_ok=True)
    empty = not any(not entry.name.startswith(".") for entry in where.iterdir())
    created: list[str] = []
    layout = Layout(where)
    if not layout.state.exists():
        created.append(".fastpipe/")
    layout.ensure()
    if empty:
        (where / discovery.PIPELINE_FILE).write_text(SAMPLE_PIPELINE)
        created.append(discovery.PIPELINE_FILE)
    return InitResult(where, tuple(created))


# ---------------------------------------------------------------- the DVC bridge (docs/dvc.md)


def export(
    targets: Sequence[str] | str = (),
    *,
    root: Root = None,
    output: Path | str | None = None,
    force: bool = False,
    listener: Listener | None = None,
) -> ExportResult:
    """Write dvc.yaml (at the root, or `output`) for `targets` (default: all) and their upstream."""
    from fastpipe.export.dvcyaml import export_pipeline

    ctx = _context(root, listener)
    result = export_pipeline(ctx, _targets(targets), _start(root), output, force)
    ctx.cache.save()
    return result


def validate_export(
    targets: Sequence[str] | str = (),
    *,
    root: Root = None,
    output: Path | str | None = None,
    force: bool = False,
    listener: Listener | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Export, then run fastpipe and real DVC on copies of the project and compare every out."""
    from fastpipe.export import validate
    from fastpipe.export.dvcyaml import export_pipeline

    dvc = validate.require_dvc()
    ctx = _context(root, listener)
    exported = export_pipeline(ctx, _targets(targets), _start(root), output, force)
    ctx.cache.save()
    return validate.validate(ctx, exported, _targets(targets), dvc, progress or (lambda _: None))


def exec_stage(
    stage: str,
    *,
    root: Root = None,
    params: Mapping[str, object] | None = None,
    listener: Listener | None = None,
) -> StageResult:
    """Run one stage in this process with its resolved params: no staleness check, no lock.

    `params` overrides params as in `run`. A stage that fails is a result (`ok` false).
    """
    from fastpipe.export.execute import exec_stage as run_here

    return run_here(_context(root, listener, _overrides(params)), stage)


def import_dvc(
    *,
    root: Root = None,
    dvc_file: Path | str | None = None,
    dry_run: bool = False,
    listener: Listener | None = None,
) -> ImportReport:
    """Adopt the stages DVC computed (deps and outs still match dvc.lock) by writing locks."""
    from fastpipe.export.adopt import import_dvc as adopt

    return adopt(_start(root), dvc_file, dry_run=dry_run, listener=listener or _warn)


# ---------------------------------------------------------------- comparing runs (metrics, params)


def metrics(rev: str | None = None, *, root: Root = None, stages: Sequence[str] = ()) -> Values:
    """The declared metrics files of `stages` (default: all) at `rev` (None: the workspace)."""
    from fastpipe import compare

    specs = _specs(root, stages)
    with compare.Sides(specs.root) as sides:
        return compare.metric_values(sides, rev, compare.metrics_paths(specs.chosen))


def metrics_diff(
    a_rev: str | None = "HEAD",
    b_rev: str | None = None,
    *,
    root: Root = None,
    precision: int = 5,
    all: bool = False,
) -> Diff:
    """Every metric that differs between `a_rev` and `b_rev` (None: the workspace)."""
    from fastpipe import compare

    specs = _specs(root, ())
    paths = compare.metrics_paths(specs.chosen)
    with compare.Sides(specs.root) as sides:
        old = compare.metric_values(sides, a_rev, paths)
        new = compare.metric_values(sides, b_rev, paths)
    return compare.compare(old, new, precision=precision, include_unchanged=all)


def params(rev: str | None = None, *, root: Root = None, stages: Sequence[str] = ()) -> Values:
    """Params per stage at `rev` (from its locks), or as the next run resolves them (None)."""
    from fastpipe import compare

    specs = _specs(root, stages)
    with compare.Sides(specs.root) as sides:
        workspace = _resolved_params(specs) if rev is None else None
        return compare.param_values(sides, rev, workspace, stages)


def params_diff(
    a_rev: str | None = "HEAD",
    b_rev: str | None = None,
    *,
    root: Root = None,
    precision: int = 5,
    all: bool = False,
) -> Diff:
    """Every stage param that differs between `a_rev` and `b_rev` (None: the workspace)."""
    from fastpipe import compare

    project = discovery.load_project(_start(root))
    with compare.Sides(project.root) as sides:
        sides.check(a_rev)
        sides.check(b_rev)
        workspace = None
        if a_rev is None or b_rev is None:
            workspace = _resolved_params(_specs(project.root, ()))
        old = compare.param_values(sides, a_rev, workspace)
        new = compare.param_values(sides, b_rev, workspace)
    return compare.compare(old, new, precision=precision, include_unchanged=all)


@dataclass(frozen=True)
class _Specs:
    root: Path
    specs: Mapping[str, StageSpec]
    chosen: tuple[StageSpec, ...]


def _specs(root: Path | str | None, stages: Sequence[str]) -> _Specs:
    """The workspace pipeline's specs, and those of `stages` (default: all)."""
    from fastpipe.errors import UnknownStageError

    project = discovery.load_project(_start(root))
    specs = discovery.load_pipeline(project).specs
    for name in stages:
        if name not in specs:
            raise UnknownStageError(name, specs)
    chosen = tuple(specs[n] for n in stages) if stages else tuple(specs.values())
    return _Specs(project.root, specs, chosen)


def _resolved_params(specs: _Specs) -> dict[str, Mapping[str, Any]]:
    from fastpipe.params import load_params_file, resolve_params

    return dict(resolve_params(specs.specs, load_params_file(specs.root), []))


# ---------------------------------------------------------------- run history and report


def history(*, root: Root = None, limit: int | None = None) -> tuple[RunRecord, ...]:
    """The recorded runs of the project, newest first (at most `limit`)."""
    from fastpipe import runhistory

    project = discovery.load_project(_start(root))
    return tuple(runhistory.history(project.layout.state, limit))


def report(
    run_id: str | None = None,
    *,
    root: Root = None,
    output: Path | str | None = None,
) -> Path:
    """Write the HTML report of run `run_id` (default: the latest) to `output`; its path.

    `output` defaults to fastpipe-report.html in `root` (or the current directory).
    """
    from fastpipe import runhistory, runreport
    from fastpipe.atomicfile import atomic_write

    project = discovery.load_project(_start(root))
    record = runhistory.load(project.layout.state, run_id)
    target = Path(output) if output is not None else _start(root) / REPORT_FILE
    try:
        atomic_write(target, runreport.render(record).encode("utf-8"))
    except OSError as exc:
        raise FastpipeError(f"cannot write the report to '{target}': {exc.strerror}") from exc
    return target


REPORT_FILE = "fastpipe-report.html"


# ---------------------------------------------------------------- comparing runs (plots)

PLOTS_DIR = "fastpipe-plots"


def plots(
    revs: Sequence[str] = (),
    *,
    root: Root = None,
    stages: Sequence[str] = (),
    workspace: bool = True,
    output: Path | str | None = None,
) -> PlotsPage:
    """Draw the declared plots of `stages` (default: all) at each of `revs`, then the
    workspace (unless `workspace` is False), on one page: `output`/index.html."""
    from fastpipe import compare
    from fastpipe import plots as plotting
    from fastpipe.atomicfile import atomic_write

    specs = _specs(root, stages)
    chosen = list({p.path: p for spec in specs.chosen for p in spec.plot_specs}.values())
    sides: list[str | None] = [*revs, *([None] if workspace or not revs else [])]
    figures: list[plotting.Figure] = []
    with compare.Sides(specs.root) as reader:
        labels = [reader.check(rev) for rev in sides]
        for plot in chosen:
            found = [
                (label, reader.read(rev, plot.path))
                for label, rev in zip(labels, sides, strict=True)
            ]
            figures.append(plotting.figure(plot, found))
    target = Path(output) if output is not None else _start(root) / PLOTS_DIR
    index = target / "index.html"
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(index, plotting.render_page(figures, labels).encode("utf-8"))
    except OSError as exc:
        raise FastpipeError(f"cannot write the plots page to '{index}': {exc.strerror}") from exc
    errors = tuple(e for f in figures for e in f.errors)
    return plotting.PlotsPage(index, tuple(p.path for p in chosen), tuple(labels), errors)


# ---- data: checkout, open, get, gc


def checkout(
    targets: Sequence[str] = (),
    *,
    root: Root = None,
    force: bool = False,
    listener: Listener | None = None,
) -> CheckoutReport:
    """Make the outs of `targets` (default: every stage with a lock) match their locks."""
    from fastpipe.checkout import checkout as run_checkout

    return run_checkout(_start(root), targets, force=force, listener=listener or _warn)


def open(path: str, rev: str | None = None, *, root: Root = None) -> BinaryIO:
    """`path` (relative to the project root) at git revision `rev` as a binary file object.

    Without `rev`: the workspace file, or, if it is missing, its out from the cache.
    """
    from fastpipe.revision import open_at

    return open_at(_start(root), path, rev)


def get(
    path: str,
    rev: str,
    *,
    out: Path | str | None = None,
    force: bool = False,
    root: Root = None,
) -> GetResult:
    """Write `path` as it was at `rev` to `out` (default: its file name in the working dir)."""
    from fastpipe.revision import get as run_get

    start = _start(root)
    target = Path(out) if out is not None else None
    return run_get(start, path, rev, target, force=force, cwd=Path.cwd())


def gc(
    *,
    workspace: bool = False,
    all_commits: bool = False,
    dry_run: bool = False,
    root: Root = None,
    listener: Listener | None = None,
) -> GcReport:
    """Delete cache objects no lock in the workspace (or in any commit) refers to."""
    from fastpipe.gc import Scope
    from fastpipe.gc import gc as run_gc

    scope = Scope.ALL_COMMITS if all_commits else Scope.WORKSPACE if workspace else None
    notify = listener or _warn
    project = discovery.load_project(_start(root))
    layout = project.layout
    layout.ensure()
    # No run may store objects its lock does not name yet while they are judged unreferenced.
    with projectlock.hold(layout.run_lock, wait=True, on_wait=lambda m: notify(Waiting(m))):
        return run_gc(project.root, scope, dry_run=dry_run, listener=notify)


# ---- change detection: accept


def accept(
    stages: Sequence[str] | str,
    *,
    because: str,
    root: Root = None,
    force: bool = False,
    listener: Listener | None = None,
) -> tuple[Accepted, ...]:
    """Record the current code and params of `stages` as their truth without running them
    (outputs kept as they are); the lock says it was accepted, when, why and what changed.

    Refused (AcceptError) for a stage never run, or whose deps or outputs changed unless
    `force`; nothing is written unless every stage can be accepted.
    """
    from fastpipe.accept import accept as accept_stages

    names = _targets(stages)
    if not names:
        raise FastpipeError("accept needs at least one stage name")
    notify = listener or _warn
    project = discovery.load_project(_start(root))
    with projectlock.hold(project.layout.run_lock, wait=True, on_wait=lambda m: notify(Waiting(m))):
        ctx = _context(project.root, notify)
        done = accept_stages(ctx, names, because, force=force)
        ctx.cache.save()
    return tuple(done)


# ---- change detection: verify


def verify(
    stages: Sequence[str] | str = (), *, root: Root = None, listener: Listener | None = None
) -> tuple[Verified, ...]:
    """Re-run the fresh stages among `stages` (default: all) in a temporary copy and compare
    their outputs with their locks'; those that differ are recorded as nondeterministic."""
    from fastpipe.verify import verify as verify_stages

    ctx = _context(root, listener)
    found = verify_stages(ctx, list(_targets(stages)))
    ctx.cache.save()
    return tuple(found)

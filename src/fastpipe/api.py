"""What the CLI and users call: run(), status(), explain() and friends, returning values."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fastpipe import discovery, fastpath, projectlock
from fastpipe.errors import ExecutorError, FastpipeError, ProjectError
from fastpipe.events import Event, Listener, StageSkipped, Waiting, WarningIssued
from fastpipe.layout import Layout
from fastpipe.results import Outcome, RunResult, StageRun
from fastpipe.stage import StageSpec
from fastpipe.staleness import StageStatus

# The fast path (a no-op `run`, `status`) must not pay for networkx, the fingerprinting
# machinery or the executors: the modules that need them are imported by the slow paths.
if TYPE_CHECKING:
    from fastpipe.checkout import CheckoutReport
    from fastpipe.context import Context
    from fastpipe.devices import DeviceSource
    from fastpipe.executors.warm import WarmExecutor
    from fastpipe.export.adopt import ImportReport
    from fastpipe.export.dvcyaml import ExportResult
    from fastpipe.export.validate import ValidationReport
    from fastpipe.gc import GcReport
    from fastpipe.revision import GetResult
    from fastpipe.runner import RunOptions
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


class FastpipeWarning(UserWarning):
    """A warning from fastpipe (e.g. code it cannot fingerprint), for API callers."""


@dataclass(frozen=True)
class StatusReport:
    """`status`: every selected stage, fresh or stale with reasons."""

    stages: tuple[StageStatus, ...]

    @property
    def stale(self) -> list[str]:
        return [s.name for s in self.stages if s.stale]


@dataclass(frozen=True)
class InitResult:
    root: Path
    created: tuple[str, ...]


def _warn(event: Event) -> None:
    if isinstance(event, WarningIssued):
        warnings.warn(event.message, FastpipeWarning, stacklevel=3)


def _context(
    cwd: Path | str | None, listener: Listener | None, overrides: Sequence[str] = ()
) -> Context:
    from fastpipe.context import open_context

    return open_context(Path(cwd or "."), overrides=overrides, listener=listener or _warn)


def run(
    targets: Sequence[str] = (),
    *,
    cwd: Path | str | None = None,
    force: bool = False,
    dry_run: bool = False,
    jobs: int | None = None,
    executor: str | None = None,
    keep_going: bool = False,
    overrides: Sequence[str] = (),
    downstream: bool = False,
    wait: bool = True,
    resources: Mapping[str, float] | None = None,
    devices: DeviceSource | None = None,
    listener: Listener | None = None,
    dask_address: str | None = None,
    no_run_cache: bool = False,
) -> RunResult:
    """Run the stale stages among `targets` (default: all) and their upstream."""
    notify = listener or _warn
    project = discovery.load_project(Path(cwd or "."))
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
            nothing_to_do = _nothing_to_run(project, targets, downstream, notify)
            if nothing_to_do is not None:
                return nothing_to_do
        from fastpipe.runner import RunOptions, default_jobs, start_warm

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
        )
        # Started before the pipeline is loaded here, so that its imports overlap ours.
        warm = start_warm(project, notify) if name == "warm" else None
        try:
            return _execute(project, targets, downstream, overrides, notify, warm, options)
        finally:
            if warm is not None:
                warm.shutdown(cancel_futures=True)  # a no-op if the run already shut it down


def _execute(
    project: discovery.Project,
    targets: Sequence[str],
    downstream: bool,
    overrides: Sequence[str],
    notify: Listener,
    warm: WarmExecutor | None,
    options: RunOptions,
) -> RunResult:
    from fastpipe.runner import execute

    ctx = _context(project.root, notify, overrides)
    selection = ctx.select(targets, downstream=downstream)
    fastpath.remember(ctx)
    try:
        return execute(ctx, selection, options, warm)
    finally:
        ctx.cache.save()


def _nothing_to_run(
    project: discovery.Project, targets: Sequence[str], downstream: bool, notify: Listener
) -> RunResult | None:
    """The run's result if a trusted snapshot shows every selected stage fresh, else None."""
    view = fastpath.open_view(project, notify)
    if view is None:
        return None
    selection = view.select(targets, downstream=downstream)
    found = view.statuses(selection)
    view.save()
    if any(s.stale for s in found):
        return None
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
    targets: Sequence[str] = (),
    *,
    cwd: Path | str | None = None,
    downstream: bool = False,
    listener: Listener | None = None,
) -> StatusReport:
    """Whether each selected stage (default: all) is fresh or stale, and why."""
    notify = listener or _warn
    project = discovery.load_project(Path(cwd or "."))
    view = fastpath.open_view(project, notify)
    if view is not None:
        report = StatusReport(tuple(view.statuses(view.select(targets, downstream=downstream))))
        view.save()
        return report
    ctx = _context(project.root, notify)
    report = StatusReport(tuple(ctx.statuses(ctx.select(targets, downstream=downstream))))
    fastpath.remember(ctx)
    ctx.cache.save()
    return report


def explain(
    stage: str, *, cwd: Path | str | None = None, listener: Listener | None = None
) -> StageStatus:
    """Why `stage` is stale, in detail (old and new values of every changed item)."""
    ctx = _context(cwd, listener)
    selection = ctx.select([stage])
    found = {s.name: s for s in ctx.statuses(selection)}
    ctx.cache.save()
    return found[stage]


@dataclass(frozen=True)
class StageInfo:
    """A stage as `list` shows it: its spec and its params as resolved now."""

    spec: StageSpec
    params: Mapping[str, Any]


def list_stages(*, cwd: Path | str | None = None) -> tuple[StageInfo, ...]:
    """Every stage with its resolved params, in topological order."""
    from fastpipe import graph

    ctx = _context(cwd, None)
    return tuple(StageInfo(ctx.spec(n), ctx.params[n]) for n in graph.topological_order(ctx.graph))


def dag(*, cwd: Path | str | None = None, fmt: str = "ascii") -> str:
    """The pipeline graph rendered as `ascii`, `mermaid` or `dot`."""
    from fastpipe import graph

    renderers = {"ascii": graph.to_ascii, "mermaid": graph.to_mermaid, "dot": graph.to_dot}
    if fmt not in renderers:
        raise FastpipeError(f"unknown dag format '{fmt}' (use ascii, mermaid or dot)")
    project = discovery.load_project(Path(cwd or "."))
    pipeline = discovery.load_pipeline(project)
    return renderers[fmt](graph.build_graph(pipeline.specs.values()))


def init(*, cwd: Path | str | None = None) -> InitResult:
    """Create .fastpipe/ (and a sample pipeline.py if the directory has no project file)."""
    root = Path(cwd or ".").resolve()
    with contextlib.suppress(ProjectError):
        existing = discovery.find_root(root)
        if existing != root:
            raise ProjectError(
                f"'{root}' is inside the fastpipe project at '{existing}'; "
                "run fastpipe there (or init with -C to a directory outside it)"
            )
    created: list[str] = []
    layout = Layout(root)
    if not layout.state.exists():
        created.append(".fastpipe/")
    layout.ensure()
    pipeline = root / discovery.PIPELINE_FILE
    if not pipeline.exists() and not discovery.has_fastpipe_table(root):
        pipeline.write_text(SAMPLE_PIPELINE)
        created.append(discovery.PIPELINE_FILE)
    return InitResult(root, tuple(created))


# ---------------------------------------------------------------- the DVC bridge (SPEC 10)


def export(
    targets: Sequence[str] = (),
    *,
    cwd: Path | str | None = None,
    output: Path | str | None = None,
    force: bool = False,
    listener: Listener | None = None,
) -> ExportResult:
    """Write dvc.yaml (at the root, or `output`) for `targets` (default: all) and their upstream."""
    from fastpipe.export.dvcyaml import export_pipeline

    ctx = _context(cwd, listener)
    result = export_pipeline(ctx, targets, Path(cwd or "."), output, force)
    ctx.cache.save()
    return result


def validate_export(
    targets: Sequence[str] = (),
    *,
    cwd: Path | str | None = None,
    output: Path | str | None = None,
    force: bool = False,
    listener: Listener | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Export, then run fastpipe and real DVC on copies of the project and compare every out."""
    from fastpipe.export import validate
    from fastpipe.export.dvcyaml import export_pipeline

    dvc = validate.require_dvc()
    ctx = _context(cwd, listener)
    exported = export_pipeline(ctx, targets, Path(cwd or "."), output, force)
    ctx.cache.save()
    return validate.validate(ctx, exported, targets, dvc, progress or (lambda _: None))


def exec_stage(
    stage: str,
    *,
    cwd: Path | str | None = None,
    overrides: Sequence[str] = (),
    listener: Listener | None = None,
) -> StageResult:
    """Run one stage in this process with its resolved params: no staleness check, no lock."""
    from fastpipe.export.execute import exec_stage as run_here

    return run_here(_context(cwd, listener, overrides), stage)


def import_dvc(
    *,
    cwd: Path | str | None = None,
    dvc_file: Path | str | None = None,
    dry_run: bool = False,
    listener: Listener | None = None,
) -> ImportReport:
    """Adopt the stages DVC computed (deps and outs still match dvc.lock) by writing locks."""
    from fastpipe.export.adopt import import_dvc as adopt

    return adopt(Path(cwd or "."), dvc_file, dry_run=dry_run, listener=listener or _warn)


# ---- data: checkout, open, get, gc


def checkout(
    targets: Sequence[str] = (),
    *,
    root: Path | str | None = None,
    force: bool = False,
    listener: Listener | None = None,
) -> CheckoutReport:
    """Make the outs of `targets` (default: every stage with a lock) match their locks."""
    from fastpipe.checkout import checkout as run_checkout

    return run_checkout(Path(root or "."), targets, force=force, listener=listener or _warn)


def open(path: str, rev: str | None = None, *, root: Path | str | None = None) -> BinaryIO:
    """`path` (relative to the project root) at git revision `rev` as a binary file object.

    Without `rev`: the workspace file, or, if it is missing, its out from the cache.
    """
    from fastpipe.revision import open_at

    return open_at(Path(root or "."), path, rev)


def get(
    path: str,
    rev: str,
    *,
    out: Path | str | None = None,
    force: bool = False,
    root: Path | str | None = None,
) -> GetResult:
    """Write `path` as it was at `rev` to `out` (default: its file name in the working dir)."""
    from fastpipe.revision import get as run_get

    start = Path(root or ".")
    target = Path(out) if out is not None else None
    return run_get(start, path, rev, target, force=force, cwd=Path.cwd())


def gc(
    *,
    workspace: bool = False,
    all_commits: bool = False,
    dry_run: bool = False,
    root: Path | str | None = None,
    listener: Listener | None = None,
) -> GcReport:
    """Delete cache objects no lock in the workspace (or in any commit) refers to."""
    from fastpipe.gc import Scope
    from fastpipe.gc import gc as run_gc

    scope = Scope.ALL_COMMITS if all_commits else Scope.WORKSPACE if workspace else None
    notify = listener or _warn
    project = discovery.load_project(Path(root or "."))
    layout = project.layout
    layout.ensure()
    # No run may store objects its lock does not name yet while they are judged unreferenced.
    with projectlock.hold(layout.run_lock, wait=True, on_wait=lambda m: notify(Waiting(m))):
        return run_gc(project.root, scope, dry_run=dry_run, listener=notify)

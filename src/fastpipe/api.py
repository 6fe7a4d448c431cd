"""What the CLI and users call: run(), status(), explain() and friends, returning values."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastpipe import discovery, executors, graph, projectlock
from fastpipe.context import Context, open_context
from fastpipe.devices import DeviceSource
from fastpipe.errors import FastpipeError, ProjectError
from fastpipe.events import Event, Listener, Waiting, WarningIssued
from fastpipe.layout import Layout
from fastpipe.runner import RunOptions, RunResult, StageRun, default_jobs, execute
from fastpipe.scheduler import Outcome
from fastpipe.stage import StageSpec
from fastpipe.staleness import StageStatus

SAMPLE_PIPELINE = '''\
"""A fastpipe pipeline: each @stage function is a step; fastpipe runs only what changed."""

from pathlib import Path
from typing import Any

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
) -> RunResult:
    """Run the stale stages among `targets` (default: all) and their upstream."""
    notify = listener or _warn
    project = discovery.load_project(Path(cwd or "."))
    if dry_run:
        ctx = _context(project.root, notify, overrides)
        selection = ctx.select(targets, downstream=downstream)
        graph.check_deps_exist(ctx.graph, selection, ctx.root)
        return _dry_run(ctx, selection, force)
    layout = Layout(project.root)
    with projectlock.hold(layout.run_lock, wait=wait, on_wait=lambda m: notify(Waiting(m))):
        ctx = _context(project.root, notify, overrides)
        selection = ctx.select(targets, downstream=downstream)
        options = RunOptions(
            force=force,
            jobs=jobs or project.config.jobs or default_jobs(),
            executor=executor or project.config.executor or executors.DEFAULT,
            keep_going=keep_going,
            resources=dict(resources or {}),
            devices=devices,
        )
        try:
            return execute(ctx, selection, options)
        finally:
            ctx.cache.save()


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
    ctx = _context(cwd, listener)
    report = StatusReport(tuple(ctx.statuses(ctx.select(targets, downstream=downstream))))
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
    ctx = _context(cwd, None)
    return tuple(StageInfo(ctx.spec(n), ctx.params[n]) for n in graph.topological_order(ctx.graph))


def dag(*, cwd: Path | str | None = None, fmt: str = "ascii") -> str:
    """The pipeline graph rendered as `ascii`, `mermaid` or `dot`."""
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

"""fastpipe vs DVC on one generated pipeline: the same steps, timed in the same run.

Each repetition copies each tool's pristine project (never run) and times, in order:
`help`, `cold` (first run), `noop` (run again), `status`, `code_edit` (one mid-pipeline stage's
body edited, then a run) and `param_edit` (that stage's `scale` changed in params.yaml, then a
run). After every run the outputs are hashed and must be byte-identical across tools and
repetitions; the number of stages each run re-ran is read from the outputs' mtimes.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import generate
from bodytime import time_bodies
from dag import Dag, build, mid_stage
from generate import Spec
from timing import Stats, Timed, run
from tools import FASTPIPE, Tool

STEPS = ("help", "cold", "noop", "status", "code_edit", "param_edit")
_OUTPUT_STATE = {"cold": "base", "noop": "base", "code_edit": "code", "param_edit": "both"}


class UsageError(ValueError):
    """A setting names something the generated pipeline does not have."""


class OutputMismatchError(RuntimeError):
    """The tools (or two repetitions) wrote different bytes: the comparison is void."""


@dataclass(frozen=True)
class Settings:
    stages: int
    shape: str
    seed: int
    weight: str
    reps: int
    jobs: int
    workdir: Path
    keep: bool = False
    params_every: int = 1  # every K-th stage has params, and the edited one; 0: only it
    edit: str | None = None  # the stage the edits change (default: dag.mid_stage)


@dataclass(frozen=True)
class StepResult:
    stats: Stats
    cpu: Stats  # CPU seconds of the tool's process tree, per repetition
    loads: tuple[float, ...]  # 1-minute load average as each repetition started
    stages_run: int | None  # outputs rewritten by the step (None for help/status)
    peak_rss_kib: int  # largest over repetitions, of the tool's process tree


@dataclass(frozen=True)
class Comparison:
    settings: Settings
    mid: str
    expected_reruns: int  # the edited stage and everything downstream of it
    bodies: Stats
    results: Mapping[str, Mapping[str, StepResult]]  # tool -> step -> result


@dataclass
class _Recorder:
    """Collects timings and checks every run's outputs against the first run of that state."""

    mid_output: str
    expected: Mapping[str, int]  # step -> stages it should re-run
    timed: dict[tuple[str, str], list[Timed]] = field(default_factory=dict)
    reruns: dict[tuple[str, str], int] = field(default_factory=dict)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)

    def check_outputs(self, tool: str, step: str, root: Path, before: dict[str, int]) -> None:
        after = generate.output_mtimes(root)
        reran = sum(1 for name, t in after.items() if before.get(name) != t)
        self.reruns[tool, step] = reran
        if reran != self.expected[step]:
            print(
                f"warning: {tool} {step} re-ran {reran} stages, expected {self.expected[step]}",
                file=sys.stderr,
            )
        state = _OUTPUT_STATE[step]
        digests = generate.digest_outputs(root)
        reference = self.digests.setdefault(state, digests)
        if digests != reference:
            names = reference.keys() | digests.keys()
            differ = sorted(k for k in names if reference.get(k) != digests.get(k))
            raise OutputMismatchError(f"{tool} {step}: outputs differ from the first run: {differ}")
        base = self.digests["base"]
        if state != "base" and digests.get(self.mid_output) == base.get(self.mid_output):
            raise OutputMismatchError(f"{tool} {step}: the edit did not change {self.mid_output}")


def make_templates(
    spec: Spec, settings: Settings, tools: list[Tool], env: dict[str, str]
) -> dict[str, Path]:
    """Each tool's pristine project (and always a fastpipe one, for timing the bodies)."""
    templates = {FASTPIPE: settings.workdir / "template" / FASTPIPE}
    generate.write_fastpipe(templates[FASTPIPE], spec)
    for tool in tools:
        if tool.name != FASTPIPE:
            templates[tool.name] = settings.workdir / "template" / tool.name
            generate.write_dvc(templates[tool.name], spec)
            generate.init_dvc(templates[tool.name], tool.exe, env)
    for template in templates.values():
        generate.settle(template)
    return templates


def _with_params(dag: Dag, mid: str, every: int) -> frozenset[str] | None:
    if every == 1:
        return None
    return frozenset({mid, *(n for i, n in enumerate(dag.names) if every and i % every == 0)})


def compare(settings: Settings, tools: list[Tool], env: dict[str, str]) -> Comparison:
    dag = build(settings.shape, settings.stages, settings.seed)
    mid = settings.edit or mid_stage(dag)
    if mid not in dag.upstream:
        raise UsageError(
            f"--edit-stage: no stage {mid!r} (they are {dag.names[0]}..{dag.names[-1]})"
        )
    base = Spec(dag, settings.weight, with_params=_with_params(dag, mid, settings.params_every))
    code = replace(base, code_edit=mid)
    specs = {"code_edit": code, "param_edit": replace(code, param_edit=mid)}
    templates = make_templates(base, settings, tools, env)
    bodies = time_bodies(
        templates[FASTPIPE], settings.workdir / "bodies", dag.names, max(1, settings.reps), env
    )
    reruns = 1 + len(dag.downstream(mid))
    expected = {"cold": len(dag.names), "noop": 0, "code_edit": reruns, "param_edit": reruns}
    recorder = _Recorder(Path(generate.output_path(settings.weight, mid)).name, expected)
    for rep in range(settings.reps):
        for tool in tools:
            root = settings.workdir / f"rep{rep}" / tool.name
            shutil.copytree(templates[tool.name], root, symlinks=True)
            for step in STEPS:
                _step(tool, step, rep, root, specs, recorder, settings, env)
            if not settings.keep:
                shutil.rmtree(root)
    return Comparison(
        settings,
        mid,
        reruns,
        bodies,
        {tool.name: _results(recorder, tool.name) for tool in tools},
    )


def _step(
    tool: Tool,
    step: str,
    rep: int,
    root: Path,
    specs: Mapping[str, Spec],
    recorder: _Recorder,
    settings: Settings,
    env: dict[str, str],
) -> None:
    if step == "code_edit":
        generate.apply_code_edit(root, tool.name, specs[step])
    elif step == "param_edit":
        generate.apply_param_edit(root, specs[step])
    before = generate.output_mtimes(root)
    log = settings.workdir / "logs" / f"{tool.name}-rep{rep}-{step}.log"
    timed = run(tool.command(step), root, env, log)
    recorder.timed.setdefault((tool.name, step), []).append(timed)
    if step in _OUTPUT_STATE:
        recorder.check_outputs(tool.name, step, root, before)
    print(
        f"[rep {rep + 1}/{settings.reps}] {tool.name:8} {step:10} {timed.seconds:8.3f} s "
        f"(cpu {timed.cpu_seconds:7.3f} s, load {timed.load:.1f})",
        file=sys.stderr,
    )


def _results(recorder: _Recorder, tool: str) -> dict[str, StepResult]:
    results: dict[str, StepResult] = {}
    for step in STEPS:
        timed = recorder.timed[tool, step]
        results[step] = StepResult(
            Stats(tuple(t.seconds for t in timed)),
            Stats(tuple(t.cpu_seconds for t in timed)),
            tuple(t.load for t in timed),
            recorder.reruns.get((tool, step)),
            max(t.tree_rss_kib for t in timed),
        )
    return results

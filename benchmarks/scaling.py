"""fastpipe alone on pipelines of trivial stages: how cost grows with the number of stages.

For each size: a cold run, a no-op run and status (each repetition on a fresh copy), the peak
RSS of the `fastpipe` process, and the orchestration overhead per stage:

    overhead = (median cold wall time - sum of the stage bodies' own times) / stages

where the bodies' time is measured by bodytime.py (all bodies back to back in one process).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import generate
from bodytime import time_bodies
from dag import build
from generate import Spec
from timing import Stats, Timed, run
from tools import Tool

STEPS = ("cold", "noop", "status")
WEIGHT = "trivial"


@dataclass(frozen=True)
class SizeResult:
    stages: int
    seconds: Mapping[str, Stats]  # step -> wall times
    cpu: Mapping[str, Stats]  # step -> CPU seconds of the process tree
    loads: Mapping[str, tuple[float, ...]]  # step -> 1-minute load average at each start
    main_rss_kib: Mapping[str, int]  # step -> peak RSS of the fastpipe process (max over reps)
    tree_rss_kib: Mapping[str, int]  # step -> peak RSS over its process tree (max over reps)
    bodies: Stats

    @property
    def overhead_ms(self) -> float:
        """Orchestration cost per stage of the cold run, in ms (see module docstring)."""
        return (self.seconds["cold"].median - self.bodies.median) / self.stages * 1000


@dataclass(frozen=True)
class Scaling:
    shape: str
    seed: int
    reps: int
    jobs: int
    sizes: tuple[SizeResult, ...]


def scaling(
    sizes: list[int],
    shape: str,
    seed: int,
    reps: int,
    tool: Tool,
    workdir: Path,
    env: dict[str, str],
) -> Scaling:
    results = tuple(_size(n, shape, seed, reps, tool, workdir / f"n{n}", env) for n in sizes)
    return Scaling(shape, seed, reps, tool.jobs, results)


def _size(
    stages: int, shape: str, seed: int, reps: int, tool: Tool, workdir: Path, env: dict[str, str]
) -> SizeResult:
    dag = build(shape, stages, seed)
    template = workdir / "template"
    generate.write_fastpipe(template, Spec(dag, WEIGHT))
    generate.settle(template)
    timings: dict[str, list[Timed]] = {step: [] for step in STEPS}
    for rep in range(reps):
        root = workdir / f"rep{rep}"
        shutil.copytree(template, root, symlinks=True)
        for step in STEPS:
            log = workdir / "logs" / f"rep{rep}-{step}.log"
            timed = run(tool.command(step), root, env, log, poll_rss=True)
            timings[step].append(timed)
            print(
                f"[{stages} stages, rep {rep + 1}/{reps}] fastpipe {step:6} "
                f"{timed.seconds:8.3f} s (cpu {timed.cpu_seconds:7.3f} s, load {timed.load:.1f})"
                f"  rss {(timed.main_rss_kib or 0) / 1024:7.1f} MiB",
                file=sys.stderr,
            )
        if len(generate.digest_outputs(root)) != stages:
            raise RuntimeError(f"{stages} stages: the cold run did not write every output")
        shutil.rmtree(root)
    bodies = time_bodies(template, workdir / "bodies", dag.names, reps, env)
    shutil.rmtree(template)
    return SizeResult(
        stages,
        {step: Stats(tuple(t.seconds for t in ts)) for step, ts in timings.items()},
        {step: Stats(tuple(t.cpu_seconds for t in ts)) for step, ts in timings.items()},
        {step: tuple(t.load for t in ts) for step, ts in timings.items()},
        {step: max(t.main_rss_kib or 0 for t in ts) for step, ts in timings.items()},
        {step: max(t.tree_rss_kib for t in ts) for step, ts in timings.items()},
        bodies,
    )

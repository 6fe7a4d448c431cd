"""Where a warm stage's time goes: the fork, the output capture, the stage, the round trip.

Why it mattered: the 1,000-stage cold run costs ~5.6 ms of wall time per stage against a
3 ms target (docs/performance.md, Scaling). This splits the cost of one stage process, first
by forking from this process (with the 1,000-function pipeline imported, as the warm server
has it), then through the real warm executor. Result in README.md.

    .venv/bin/python experiments/stage_process_cost.py [--stages 1000]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import generate
from dag import build

from fastpipe.executors.processes import die_with_parent, pdeathsig_setter
from fastpipe.executors.warm import WarmExecutor
from fastpipe.worker import StageTask, captured_output, run_stage

FORKS = 300
WEIGHT = "trivial"  # stage bodies import nothing (benchmarks/bodies.py)


def _task(root: Path, name: str) -> StageTask:
    return StageTask(
        name=name,
        module="pipeline",
        qualname=name,
        root=str(root),
        outputs=(f"data/{name}.txt",),
        log_path=str(root / ".fastpipe" / "logs" / f"{name}.log"),
        echo=False,
    )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def through_executor(root: Path, names: list[str], inflight: int) -> str:
    """Stages through a WarmExecutor: wall per stage, and whose CPU it costs."""
    executor = WarmExecutor(str(root), ["pipeline"], lambda _: None, lambda m, e: print(m, e))
    run_stage(_task(root, names[0]))  # the source stage: the others read its output
    executor.submit(_task(root, names[1])).result()  # the server has imported the pipeline
    parent, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    pending: set[Future[Any]] = set()
    for name in names[1:]:
        pending.add(executor.submit(_task(root, name)))
        if len(pending) >= inflight:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
    wait(pending)
    count = len(names) - 1
    wall = (time.perf_counter() - start) / count * 1000
    executor.shutdown()
    parent = (_cpu(resource.RUSAGE_SELF) - parent) / count * 1000
    children = (_cpu(resource.RUSAGE_CHILDREN) - children) / count * 1000
    return (
        f"warm executor, run_stage, {inflight} in flight: {wall:5.2f} ms wall per request; "
        f"CPU {parent:4.2f} ms here, {children:4.2f} ms in the server and stage processes"
    )


def fork_cost(label: str, child: Callable[[int], object]) -> str:
    """Fork, run `child` in the child, exit, reap: wall time per round, one at a time."""
    start = time.perf_counter()
    for i in range(FORKS):
        pid = os.fork()
        if pid == 0:
            try:
                child(i + 1)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    return f"fork + {label:36} {(time.perf_counter() - start) / FORKS * 1000:5.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="Where a warm stage's time goes.")
    parser.add_argument("--stages", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dag = build("wide", args.stages, 0)  # one source, the rest read it (and one sink)
        generate.write_fastpipe(root, generate.Spec(dag, WEIGHT))
        names = list(dag.names)[:-1]  # not the sink: it reads everything
        for inflight in (1, 2):
            print(through_executor(root, names, inflight))
        sys.path.insert(0, str(root))
        os.chdir(root)
        import pipeline  # noqa: F401  # pyright: ignore[reportMissingImports]

        gc.freeze()

        def capture(i: int) -> None:
            with captured_output("x", str(root / ".fastpipe" / "logs" / f"x{i}.log"), False):
                pass

        def whole(i: int) -> None:
            os.setpgid(0, 0)
            die_with_parent(os.getppid(), setter)
            run_stage(_task(root, names[i]))

        print(fork_cost("exit (nothing)", lambda i: None))
        print(fork_cost("die_with_parent (libc in child)", lambda i: die_with_parent(os.getppid())))
        setter = pdeathsig_setter()  # as the warm server does: libc loaded once, before forking
        print(
            fork_cost(
                "die_with_parent (libc loaded once)",
                lambda i: die_with_parent(os.getppid(), setter),
            )
        )
        print(fork_cost("output capture (pipe, thread, log)", capture))
        print(fork_cost("run_stage (trivial body)", lambda i: run_stage(_task(root, names[i]))))
        print(fork_cost("what a warm stage process does", whole))


if __name__ == "__main__":
    main()

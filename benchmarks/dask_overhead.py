"""Per-stage overhead of the dask executor against warm (docs/performance.md, "Dask executor").

    .venv/bin/python benchmarks/dask_overhead.py --stages 50 --jobs 4 --reps 3

One pipeline of N independent, trivial stages whose module imports numpy (as real pipelines
do) runs with `warm`, with `process` (a cold interpreter per stage, as dask starts on its
workers), with `dask` on its own LocalCluster, and with `dask` on a cluster given by address
(two worker processes on 127.0.0.1, started here, as `dask worker` would be). For
each stage: the time from its dispatch (the StageStarted event, taken just before submit) to
the first line of its body; for each run: the wall time of `fastpipe.run(force=True)`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastpipe import api
from fastpipe.events import Event, StageStarted

HEADER = """\
import time
from pathlib import Path

import numpy as np

from fastpipe import stage


def started(name: str) -> None:
    Path(f"t/{name}").write_text(repr(time.time()))
"""

STAGE = """

@stage(outs=["o/{name}.txt"])
def {name}() -> None:
    started("{name}")
    Path("o/{name}.txt").write_text(str(np.int64({index}) * 2))
"""


def write_project(root: Path, stages: int) -> None:
    body = "".join(STAGE.format(name=f"s{i:03d}", index=i) for i in range(stages))
    (root / "pipeline.py").write_text(HEADER + body)


@contextmanager
def address_cluster() -> Iterator[str]:
    """A cluster of two worker processes, two threads each, on 127.0.0.1: its address."""
    import distributed

    local_cluster: Any = distributed.LocalCluster  # typed loosely: None turns the dashboard off
    with local_cluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        yield cluster.scheduler_address


def one_run(root: Path, executor: str, address: str | None, jobs: int) -> tuple[float, list[float]]:
    """(wall seconds, dispatch-to-start seconds of every stage) of one forced run."""
    for state in ("t", "o", ".fastpipe"):
        shutil.rmtree(root / state, ignore_errors=True)
    (root / "t").mkdir()
    dispatched: dict[str, float] = {}

    def listen(event: Event) -> None:
        if isinstance(event, StageStarted):
            dispatched[event.name] = time.time()

    start = time.perf_counter()
    result = api.run(
        root=root, force=True, jobs=jobs, executor=executor, dask_address=address, listener=listen
    )
    wall = time.perf_counter() - start
    assert result.ok, result
    latencies = [float((root / "t" / n).read_text()) - t for n, t in dispatched.items()]
    return wall, latencies


def measure(
    root: Path, label: str, executor: str, address: str | None, jobs: int, reps: int
) -> str:
    walls: list[float] = []
    latencies: list[float] = []
    one_run(root, executor, address, jobs)  # warm-up: page cache, imports in this process
    for _ in range(reps):
        wall, found = one_run(root, executor, address, jobs)
        walls.append(wall)
        latencies += found
    stages = len(latencies) // reps
    deciles = statistics.quantiles(latencies, n=10)
    wall = statistics.median(walls)
    return (
        f"| {label} | {statistics.median(latencies) * 1e3:.1f} | {deciles[-1] * 1e3:.1f} "
        f"| {wall:.2f} | {wall / stages * 1e3:.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stages", type=int, default=50)
    parser.add_argument("--jobs", "-j", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [
        "| executor | dispatch→start median (ms) | p90 (ms) | run wall (s) | wall / stage (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp, address_cluster() as address:
        root = Path(tmp)
        write_project(root, args.stages)
        rows.append(measure(root, "warm", "warm", None, args.jobs, args.reps))
        rows.append(
            measure(root, "process (cold, for scale)", "process", None, args.jobs, args.reps)
        )
        rows.append(measure(root, "dask, LocalCluster", "dask", None, args.jobs, args.reps))
        rows.append(measure(root, "dask, by address", "dask", address, args.jobs, args.reps))
    print(f"{args.stages} stages, -j {args.jobs}, {args.reps} runs each, Python {sys.version[:6]}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""A 1,000-variant matrix stage: collection, and a no-op `fastpipe status`, timed.

One `@stage(matrix=...)` of 10 x 10 x 10 values writing `out/{a}-{b}-{c}.txt`. After one full
run (which leaves the locks and a trusted snapshot):

- collection: importing the pipeline module and expanding it into 1,000 StageSpecs
  (discovery.collect_stages), in this process, median of N;
- no-op status: `fastpipe status` as a new process, wall time, median of N.

    .venv/bin/python benchmarks/matrix_scale.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIPELINE = """\
from pathlib import Path

from fastpipe import stage

VALUES = list(range(10))


@stage(matrix={"a": VALUES, "b": VALUES, "c": VALUES}, outs=["out/{a}-{b}-{c}.txt"])
def sweep(a: int, b: int, c: int, scale: float = 1.0) -> None:
    Path("out").mkdir(exist_ok=True)
    Path(f"out/{a}-{b}-{c}.txt").write_text(str((a * 100 + b * 10 + c) * scale))
"""


def collection_s(root: Path, repeat: int) -> float:
    from fastpipe import discovery

    sys.path.insert(0, str(root))
    found: list[float] = []
    for _ in range(repeat):
        sys.modules.pop("pipeline", None)
        start = time.perf_counter()
        module = importlib.import_module("pipeline")
        stages = discovery.collect_stages(module)
        found.append(time.perf_counter() - start)
        assert len(stages) == 1000
    return statistics.median(found)


def command_s(root: Path, repeat: int, *args: str) -> float:
    found: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "fastpipe", *args], cwd=root, check=True, capture_output=True
        )
        found.append(time.perf_counter() - start)
    return statistics.median(found)


def main() -> None:
    parser = argparse.ArgumentParser(description="A 1,000-variant matrix stage, timed.")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pipeline.py").write_text(PIPELINE)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "fastpipe", "run", "--quiet"],
            cwd=root,
            check=True,
            capture_output=True,
        )
        cold = time.perf_counter() - start
        status = command_s(root, args.repeat, "status")
        noop = command_s(root, args.repeat, "run", "--quiet")
        collect = collection_s(root, args.repeat)
    print(f"1,000-variant matrix: cold run {cold:.2f} s (once)")
    print(f"  collection (import + expand)  {collect * 1000:7.1f} ms  median of {args.repeat}")
    print(f"  no-op status (new process)    {status * 1000:7.1f} ms  median of {args.repeat}")
    print(f"  no-op run (new process)       {noop * 1000:7.1f} ms  median of {args.repeat}")


if __name__ == "__main__":
    main()

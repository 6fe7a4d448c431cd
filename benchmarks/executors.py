"""How fast a stage starts on each executor, and what -j 2 buys (issue 3's measurements).

    python benchmarks/executors.py [--stages 100] [--work-ms 20]

Builds a pipeline of independent stages whose module imports numpy. Each stage body first
records the time it started; `fastpipe run --json` reports when each stage was dispatched.
The median of (start - dispatch) is the time to start a stage. For comparison, the same body
is started the way a DVC stage is: a fresh `python -c` per stage (import numpy, then run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FASTPIPE = str(Path(sys.executable).with_name("fastpipe"))
BODY = "started = time.time(); work({work_ms}); Path(f'out/{{name}}.txt').write_text(repr(started))"


def pipeline(stages: int, work_ms: float) -> str:
    lines = [
        "import time",
        "from pathlib import Path",
        "import numpy as np",
        "from fastpipe import stage",
        "",
        "def work(ms):",
        "    end = time.perf_counter() + ms / 1000",
        "    x = np.arange(1000.0)",
        "    while time.perf_counter() < end:",
        "        x = np.sqrt(x + 1.0)",
        "",
    ]
    for i in range(stages):
        name = f"s{i:03d}"
        lines += [
            f"@stage(outs=['out/{name}.txt'])",
            f"def {name}() -> None:",
            "    name = " + repr(name),
            "    " + BODY.format(work_ms=work_ms),
            "",
        ]
    return "\n".join(lines)


def fastpipe_run(root: Path, executor: str, jobs: int) -> tuple[float, list[float]]:
    """Wall time of a forced run, and each stage's dispatch-to-start latency."""
    shutil.rmtree(root / "out", ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run(
        [FASTPIPE, "run", "-f", "--json", "--executor", executor, "-j", str(jobs)],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    dispatched = {}
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event["event"] == "stage_started":
            dispatched[event["name"]] = event["time"]
    latencies = [
        float((root / "out" / f"{name}.txt").read_text()) - t for name, t in dispatched.items()
    ]
    return wall, latencies


def fresh_interpreter(stages: int, work_ms: float) -> list[float]:
    """Start latency of `python -c` per stage, as DVC runs a stage script."""
    code = (
        "import sys, time; from pathlib import Path; import numpy as np\n"
        "started = time.time()\n"
        "print(started - float(sys.argv[1]))"
    )
    latencies = []
    for _ in range(stages):
        launched = time.time()
        out = subprocess.run(
            [sys.executable, "-c", code, repr(launched)], capture_output=True, text=True
        )
        latencies.append(float(out.stdout))
    del work_ms
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stages", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=20.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fastpipe-executors-"))
    (root / "pipeline.py").write_text(pipeline(args.stages, args.work_ms))
    subprocess.run([FASTPIPE, "run", "-q", "--executor", "inline"], cwd=root, check=True,
                   capture_output=True)  # fmt: skip
    rows = []
    for executor in ("warm", "process"):
        wall, latencies = fastpipe_run(root, executor, 1)
        rows.append((f"fastpipe --executor {executor} -j 1", latencies, wall))
    fresh = fresh_interpreter(args.stages, args.work_ms)
    rows.append(("fresh `python -c` per stage (DVC-style)", fresh, None))
    print(f"{args.stages} stages, {args.work_ms:g} ms of numpy work each, {os.cpu_count()} CPUs")
    print(f"Python {sys.version.split()[0]}\n")
    print("| how a stage is started | dispatch -> start, median | min | max | run wall time |")
    print("| --- | --- | --- | --- | --- |")
    for label, values, wall in rows:
        ms = sorted(v * 1000 for v in values)
        shown = f"{wall:.2f} s" if wall is not None else "-"
        median = statistics.median(ms)
        print(f"| {label} | {median:.1f} ms | {ms[0]:.1f} ms | {ms[-1]:.1f} ms | {shown} |")
    print("\n| whole forced run, warm executor | wall time |")
    print("| --- | --- |")
    for jobs in (1, 2):
        wall, _ = fastpipe_run(root, "warm", jobs)
        print(f"| -j {jobs} | {wall:.2f} s |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

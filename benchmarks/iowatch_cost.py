"""What undeclared-I/O detection costs a stage, on the 176-stage layered numpy pipeline.

A whole-run A/B cannot resolve the cost on a loaded machine (runs of the same bodies differ by
5-10% from one pass to the next), so it is measured in parts, each as the best of `--reps`:

- the bodies: every stage body run back to back in one process (the work itself);
- the opens: how many files the bodies open (audit "open" events), counted in one pass;
- per open: the audit hook's cost on `open()` while a stage is watched;
- per stage: `iowatch.watch` entered and left plus the runner's classification.

cost a stage = per stage + opens a stage * per open, against the mean body time.

python benchmarks/iowatch_cost.py --stages 176 --reps 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import dag
import generate

_SCRIPT = """\
import json, sys, time
sys.path.insert(0, ".")
import pipeline
from fastpipe import iowatch
names, reps, n = json.load(sys.stdin), int(sys.argv[1]), 20000
funcs = [getattr(pipeline, name) for name in names]
for f in funcs:
    f()
bodies = []
for _ in range(reps):
    t = time.perf_counter()
    for f in funcs:
        f()
    bodies.append(time.perf_counter() - t)
opens = 0
with iowatch.watch(".") as opened:
    counting = [0]
    sys.addaudithook(lambda e, a: counting.__setitem__(0, counting[0] + (e == "open")))
    for f in funcs:
        f()
opens = counting[0]
open("probe.txt", "w").close()
plain, watched, fixed = [], [], []
for _ in range(reps):
    t = time.perf_counter()
    for _ in range(n):
        open("probe.txt", "rb").close()
    plain.append(time.perf_counter() - t)
    t = time.perf_counter()
    with iowatch.watch(".") as opened:
        for _ in range(n):
            open("probe.txt", "rb").close()
    watched.append(time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n):
        with iowatch.watch(".") as opened:
            pass
        iowatch.undeclared(opened, ["data/a.npy"], ["data/b.npy"], ["pipeline.py"])
    fixed.append(time.perf_counter() - t)
print(json.dumps({
    "body_s": min(bodies) / len(funcs),
    "opens_per_stage": opens / len(funcs),
    "per_open_s": (min(watched) - min(plain)) / n,
    "per_stage_s": min(fixed) / n,
}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stages", type=int, default=176)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    graph = dag.build("layered", args.stages)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate.write_fastpipe(root, generate.Spec(graph, "numpy"))
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(args.reps)],
            input=json.dumps(list(graph.names)),
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    m = json.loads(done.stdout)
    cost = m["per_stage_s"] + m["opens_per_stage"] * m["per_open_s"]
    print(
        f"{args.stages} stages (numpy), best of {args.reps}: body {m['body_s'] * 1e3:.2f} ms a "
        f"stage, {m['opens_per_stage']:.1f} opens a stage, {m['per_open_s'] * 1e6:.2f} us an "
        f"open, {m['per_stage_s'] * 1e6:.1f} us a stage fixed -> {cost * 1e6:.1f} us a stage "
        f"= {cost / m['body_s'] * 100:.2f}% of its body time"
    )


if __name__ == "__main__":
    main()

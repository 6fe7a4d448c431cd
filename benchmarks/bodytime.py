"""How long the stage bodies take by themselves: every body run back to back in one process.

This is the work no orchestrator can avoid, so `cold run - bodies` is orchestration cost. The
run imports the generated pipeline.py once (its imports are not counted), then calls each
stage function in topological order with its default params (= params.yaml's), `repeat`
times; each pass's sum is one sample.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from timing import CommandFailedError, Stats

_SCRIPT = """\
import json, sys, time
sys.path.insert(0, ".")
import pipeline
names, repeat = json.load(sys.stdin), int(sys.argv[1])
funcs = [getattr(pipeline, name) for name in names]
totals = []
for _ in range(repeat):
    total = 0.0
    for func in funcs:
        start = time.perf_counter()
        func()
        total += time.perf_counter() - start
    totals.append(total)
print(json.dumps(totals))
"""


def time_bodies(
    template: Path, scratch: Path, names: Sequence[str], repeat: int, env: Mapping[str, str]
) -> Stats:
    """Sum of body times, per pass, in a copy of the fastpipe project `template`."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(template, scratch, symlinks=True)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(repeat)],
            input=json.dumps(list(names)),
            cwd=scratch,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode != 0:
        raise CommandFailedError(f"timing the stage bodies failed:\n{done.stderr[-3000:]}")
    return Stats(tuple(json.loads(done.stdout)))

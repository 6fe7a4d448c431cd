"""Watch mode vs a fresh run: from saving a helper edit to the affected stage starting.

The 176-stage layered numpy pipeline of the harness (generate.py, dag.py), with one change:
the middle stage calls `helpers.offset()`, a project helper that records `time.time()` in
`started.txt` when the stage calls it (its first line: the stage has started). Each round
saves an edit of that helper's constant (which makes the middle stage and what is below it
stale) and measures, on the same clock, saved -> started:

- watch: a `fastpipe run --watch` already running (warm server up), which notices the edit;
- fresh: `fastpipe run` started right after the edit is saved (warm executor, its default).

Both run in tools.environment(): PYTHONDONTWRITEBYTECODE dropped, as a user's Python writes
bytecode (inherited, every import compiled the project's modules from source).

    .venv/bin/python benchmarks/watch_latency.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate
import tools
from bodies import IMPORTS
from dag import build

STAGES = 176
HELPER = """\
import time
from pathlib import Path


def offset() -> float:
    Path("started.txt").write_text(repr(time.time()))
    return {value}
"""


def write_project(root: Path) -> str:
    """The harness pipeline, its middle stage calling helpers.offset(); that stage's name."""
    dag = build("layered", STAGES, 0)
    spec = generate.Spec(dag, "numpy")
    generate.write_fastpipe(root, spec)
    middle = dag.names[len(dag.names) // 2]
    text = (root / "pipeline.py").read_text()
    head, sep, tail = text.partition(f"def {middle}(")
    body, rest_sep, rest = tail.partition("\n@stage(")
    body = body.replace("    offset = 0.0\n", "    offset = helpers.offset()\n", 1)
    imports = "\n".join(IMPORTS["numpy"])
    head = head.replace(imports, f"{imports}\nimport helpers", 1)
    (root / "pipeline.py").write_text(head + sep + body + rest_sep + rest)
    save_helper(root, 0)
    return middle


def save_helper(root: Path, round_: int) -> float:
    """Save the helper with a new constant; the time the save completed."""
    path = root / "helpers.py"
    tmp = root / ".helpers.py.tmp"  # as editors do: write aside, rename over
    tmp.write_text(HELPER.format(value=float(round_)))
    os.replace(tmp, path)
    return time.time()


def started(root: Path, after: float, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = float((root / "started.txt").read_text())
        except (OSError, ValueError):
            value = 0.0
        if value > after:
            return value
        time.sleep(0.002)
    raise TimeoutError("the edited stage did not start")


def fresh_rounds(root: Path, rounds: int, first: int) -> list[float]:
    found: list[float] = []
    for i in range(rounds):
        saved = save_helper(root, first + i)
        proc = subprocess.Popen(
            [sys.executable, "-m", "fastpipe", "run", "--quiet"],
            cwd=root,
            env=tools.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found.append(started(root, saved) - saved)
        assert proc.wait(300) == 0
    return found


def watch_rounds(root: Path, rounds: int, first: int) -> list[float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastpipe", "run", "--watch"],
        cwd=root,
        env=tools.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    cycles = threading.Semaphore(0)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("watch: "):
                cycles.release()

    threading.Thread(target=pump, daemon=True).start()
    found: list[float] = []
    try:
        assert cycles.acquire(timeout=300)  # the first run (nothing stale) is done
        for i in range(rounds):
            time.sleep(0.3)  # the machine settles, as between a developer's saves
            saved = save_helper(root, first + i)
            found.append(started(root, saved) - saved)
            assert cycles.acquire(timeout=300)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="watch vs fresh run after a helper edit")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        middle = write_project(root)
        subprocess.run(
            [sys.executable, "-m", "fastpipe", "run", "--quiet"],
            cwd=root,
            env=tools.environment(),
            check=True,
            capture_output=True,
        )
        fresh = fresh_rounds(root, args.rounds, 1)
        watch = watch_rounds(root, args.rounds, 1 + args.rounds)
    f_ms, w_ms = statistics.median(fresh) * 1000, statistics.median(watch) * 1000
    print(
        f"{STAGES}-stage layered numpy pipeline, helper of '{middle}' edited, {args.rounds} rounds"
    )
    print(f"  fresh `fastpipe run`: median {f_ms:6.1f} ms  (min {min(fresh) * 1000:.1f})")
    print(f"  `run --watch`:        median {w_ms:6.1f} ms  (min {min(watch) * 1000:.1f})")
    print(f"  watch is {f_ms / w_ms:.1f}x faster")


if __name__ == "__main__":
    main()

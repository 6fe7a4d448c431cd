"""fastpipe vs DVC on examples/textclf: fastpipe on the example, DVC on its own exported dvc.yaml.

Each repetition copies the example twice (never run): one copy is run by fastpipe, the other
gets `fastpipe export` (dvc.yaml whose stages run `fastpipe exec STAGE`), `git init` and
`dvc init`, and is run by `dvc repro`. Steps, in order: cold run, no-op run, status (both
right after the cold run), then, after a pause of SETTLE_S, no-op run and status again
REPEAT times each (what a user who comes back to the project types: fastpipe answers those
from its no-op certificate once no file it read is younger than 2 s), and a
helper edit (`build_vectorizer`'s `sublinear_tf=True` -> `False`, which changes featurize's
output and so re-runs featurize, train and evaluate), then a run. The metrics and plot files
must be byte-identical between the tools after every run. The floor: one process importing
the pipeline and calling the four stage functions back to back.

    .venv/bin/python benchmarks/textclf.py --reps 3 [--tools fastpipe,dvc] [--markdown]
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

import generate
import tools
from timing import run

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "textclf"
STEPS = ("cold", "noop", "status", "noop_settled", "status_settled", "helper_edit")
SETTLE_S = 3.0  # longer than fastpipe's 2 s trust window (freshcert.TRUST_AFTER_NS)
REPEAT = {"noop_settled": 5, "status_settled": 5}  # timed this many times a repetition
COMPARED = ("eval/metrics.json", "eval/plots/confusion.csv", "eval/plots/per_class.csv")
EDIT = ("sublinear_tf=True", "sublinear_tf=False")
_FLOOR = """
import sys, time
t = time.perf_counter()
sys.path.insert(0, ".")
import pipeline
for name in ("prepare", "featurize", "train", "evaluate"):
    getattr(pipeline, name)()
print(time.perf_counter() - t)
"""


def _copy(target: Path) -> Path:
    ignore = shutil.ignore_patterns(".fastpipe", "__pycache__", "data", "models", "eval")
    shutil.copytree(EXAMPLE, target, ignore=ignore)
    return target


def _prepare(tool: tools.Tool, root: Path, env: dict[str, str], fastpipe_exe: str) -> None:
    if tool.name == tools.DVC:
        subprocess.run([fastpipe_exe, "export"], cwd=root, env=env, check=True, capture_output=True)
        generate.init_dvc(root, tool.exe, env)
    generate.settle(root)


def _edit(root: Path) -> None:
    helpers = root / "helpers.py"
    text = helpers.read_text(encoding="utf-8")
    assert EDIT[0] in text, "examples/textclf/helpers.py changed: update benchmarks/textclf.py"
    helpers.write_text(text.replace(*EDIT), encoding="utf-8")


def _outputs(root: Path) -> dict[str, bytes]:
    return {path: (root / path).read_bytes() for path in COMPARED}


def measure(picked: list[tools.Tool], reps: int, workdir: Path) -> dict[str, object]:
    env = tools.environment()
    fastpipe_exe = tools.fastpipe(1).exe
    times: dict[str, dict[str, list[float]]] = {t.name: {s: [] for s in STEPS} for t in picked}
    cpu: dict[str, dict[str, list[float]]] = {t.name: {s: [] for s in STEPS} for t in picked}
    loads: list[float] = []
    floor: list[float] = []
    for rep in range(reps):
        seen: dict[str, dict[str, bytes]] = {}
        for tool in picked:
            root = _copy(workdir / f"rep{rep}" / tool.name)
            _prepare(tool, root, env, fastpipe_exe)
            for step in STEPS:
                if step == "helper_edit":
                    _edit(root)
                if step == "noop_settled":
                    time.sleep(SETTLE_S)
                command = tool.command("status" if step.startswith("status") else "run")
                for again in range(REPEAT.get(step, 1)):
                    log = workdir / "logs" / f"{tool.name}-{rep}-{step}-{again}.log"
                    timed = run(command, root, env, log)
                    times[tool.name][step].append(timed.seconds)
                    cpu[tool.name][step].append(timed.cpu_seconds)
                    loads.append(timed.load)
                    print(f"[rep {rep + 1}/{reps}] {tool.name:<8} {step:<14} "
                          f"{timed.seconds:7.3f} s (load {timed.load:.1f})",
                          file=sys.stderr)  # fmt: skip
                if not step.startswith("status"):
                    found = _outputs(root)
                    expected = seen.setdefault(step, found)
                    if found != expected:
                        raise SystemExit(f"benchmark failed: {tool.name} wrote other {step} bytes")
        root = _copy(workdir / f"rep{rep}" / "floor")
        done = subprocess.run(
            [sys.executable, "-c", _FLOOR], cwd=root, env=env, check=True, capture_output=True
        )
        floor.append(float(done.stdout.decode().split()[-1]))
    return {
        "times": times,
        "cpu": cpu,
        "loads": loads,
        "floor": floor,
        "cpus": os.cpu_count(),
        "date": time.time(),
    }


def render(found: dict[str, object]) -> str:
    times: dict[str, dict[str, list[float]]] = found["times"]  # pyright: ignore[reportAssignmentType]
    cpu: dict[str, dict[str, list[float]]] = found["cpu"]  # pyright: ignore[reportAssignmentType]
    floor: list[float] = found["floor"]  # pyright: ignore[reportAssignmentType]
    loads: list[float] = found["loads"]  # pyright: ignore[reportAssignmentType]
    lines = [
        "| step | tool | median | min | max | DVC / fastpipe | CPU s (median) | CPU ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for step in STEPS:
        for tool, steps in times.items():
            samples = steps[step]
            ratio = cpu_ratio = ""
            used = statistics.median(cpu[tool][step])
            if tool == tools.DVC and tools.FASTPIPE in times:
                base = statistics.median(times[tools.FASTPIPE][step])
                ratio = f"{statistics.median(samples) / base:.1f}x"
                cpu_ratio = f"{used / statistics.median(cpu[tools.FASTPIPE][step]):.1f}x"
            lines.append(
                f"| {step} | {tool} | {statistics.median(samples):.3f} s | {min(samples):.3f} s "
                f"| {max(samples):.3f} s | {ratio} | {used:.3f} | {cpu_ratio} |"
            )
    lines.append("")
    lines.append(
        f"Floor (import the pipeline and call the 4 stages back to back, one process): "
        f"median {statistics.median(floor):.2f} s over {len(floor)} run(s). "
        f"1-minute load average before the commands: {min(loads):.1f} to {max(loads):.1f} "
        f"on {found['cpus']} CPUs."
    )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--tools", default="fastpipe,dvc")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", type=Path, help="write the results as JSON to this file")
    args = p.parse_args()
    picked: list[tools.Tool] = []
    for name in args.tools.split(","):
        tool = tools.fastpipe(args.jobs) if name == tools.FASTPIPE else tools.dvc(args.jobs)
        if tool is None:
            print(f"{name} not found: skipping its rows ({tools.DVC_HINT})", file=sys.stderr)
        else:
            picked.append(tool)
    with tempfile.TemporaryDirectory(prefix="fastpipe-textclf-") as tmp:
        found = measure(picked, args.reps, Path(tmp))
    print(render(found))
    if args.out is not None:
        args.out.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

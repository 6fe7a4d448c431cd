"""What the import watch costs over a plain import of the same pipeline.

Why it mattered: the watch's profile hook ran for every call during the import, library code
included, and made importing a scikit-learn pipeline about 4x slower than `python -c "import
pipeline"` (issue 11; target: <= 10 %). The watch now switches its profile hook off while a
library module's body runs. This times, each in a fresh interpreter, the pipeline import only
(`import pipeline`, then under `importwatch.watch`, then under the watch with the switching
turned off, as it was before), on the generated 176-stage `sklearn` pipeline.

    .venv/bin/python experiments/import_watch_cost.py [--stages 176] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import generate
from dag import build

# Each variant prints the seconds the import took, measured inside the process.
_PLAIN = """
import sys, time
sys.path.insert(0, ".")
t = time.perf_counter()
import pipeline
print(time.perf_counter() - t)
"""
_WATCHED = """
import sys, time
from pathlib import Path
from fastpipe import discovery, importwatch
from fastpipe.fingerprint.project import ProjectCode
SWITCH = {switch}
if not SWITCH:
    importwatch._SwitchingFinder.find_spec = lambda self, *a, **k: None
project = discovery.load_project(Path("."))
code = ProjectCode(str(project.root))
t = time.perf_counter()
with importwatch.watch(lambda f: code.relpath(f) is not None) as recorder:
    discovery.load_pipeline(project)
print(time.perf_counter() - t)
"""
VARIANTS = {
    "plain `import pipeline`": _PLAIN,
    "under importwatch.watch": _WATCHED.format(switch=True),
    "under the watch, profile hook on for library code too (before)": _WATCHED.format(switch=False),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stages", type=int, default=176)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--weight", default="sklearn")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastpipe-watch-") as tmp:
        root = Path(tmp)
        generate.write_fastpipe(root, generate.Spec(build("layered", args.stages), args.weight))
        subprocess.run([sys.executable, "-c", "import pipeline"], cwd=root, check=True)  # .pyc
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.reps):
            for name, code in VARIANTS.items():  # interleaved: load drifts hit all alike
                done = subprocess.run(
                    [sys.executable, "-c", code], cwd=root, check=True, capture_output=True
                )
                times[name].append(float(done.stdout.decode().split()[-1]))
    plain = statistics.median(times["plain `import pipeline`"])
    print(f"{args.stages} stages, weight {args.weight}, {args.reps} reps, medians (min-max):")
    for name, found in times.items():
        median = statistics.median(found)
        print(
            f"  {name:<66} {median * 1000:7.0f} ms ({min(found) * 1000:.0f}-"
            f"{max(found) * 1000:.0f})  {median / plain:5.2f}x"
        )
    print(json.dumps(times))


if __name__ == "__main__":
    main()

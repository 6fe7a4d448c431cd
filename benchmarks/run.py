"""fastpipe vs DVC benchmark harness (see benchmarks/README.md).

python benchmarks/run.py --stages 176 --shape layered --weight numpy --reps 3
python benchmarks/run.py --scaling --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import machine
import report
import tools
from bodies import WEIGHTS
from compare import OutputMismatchError, Settings, UsageError, compare
from dag import SHAPES
from scaling import scaling
from timing import CommandFailedError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--stages", type=int, default=176, help="stages in the pipeline (default 176)")
    p.add_argument("--shape", choices=SHAPES, default="layered", help="DAG shape (default layered)")
    p.add_argument("--seed", type=int, default=0, help="seed of the layered DAG (default 0)")
    p.add_argument("--weight", choices=WEIGHTS, default="numpy", help="what stages import")
    p.add_argument(
        "--params-every",
        type=int,
        default=1,
        metavar="K",
        help="every K-th stage (and the edited one) has params; 0: only the edited one",
    )
    p.add_argument("--edit-stage", metavar="NAME", help="the stage the edits change (default: mid)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of every step (default 3)")
    p.add_argument("--tools", default="fastpipe,dvc", help="comma-separated: fastpipe,dvc")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="fastpipe -j")
    p.add_argument("--scaling", action="store_true", help="fastpipe alone, trivial stages")
    p.add_argument("--sizes", default="1000,10000", help="stage counts for --scaling")
    p.add_argument("--out", type=Path, help="write the results as JSON to this file")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument(
        "--workdir", type=Path, help="where projects are generated (default: a temp dir)"
    )
    p.add_argument("--keep", action="store_true", help="keep the generated projects and logs")
    args = p.parse_args(argv)
    names = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(names) - set(tools.TOOLS))
    if unknown or not names:
        p.error(f"--tools: unknown {unknown} (choose from {', '.join(tools.TOOLS)})")
    if args.reps < 1 or args.jobs < 1 or args.params_every < 0:
        p.error("--reps and --jobs must be at least 1, --params-every at least 0")
    args.tool_names = names
    return args


def pick_tools(names: list[str], jobs: int) -> tuple[list[tools.Tool], dict[str, str]]:
    """The requested tools that are installed, and why each missing one is skipped."""
    picked: list[tools.Tool] = []
    skipped: dict[str, str] = {}
    for name in names:
        tool = tools.fastpipe(jobs) if name == tools.FASTPIPE else tools.dvc(jobs)
        if tool is None:
            skipped[name] = f"not installed ({tools.DVC_HINT})"
            print(f"{name} not found: skipping its rows ({tools.DVC_HINT})", file=sys.stderr)
        else:
            picked.append(tool)
    return picked, skipped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [tools.FASTPIPE] if args.scaling else args.tool_names
    picked, skipped = pick_tools(names, args.jobs)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fastpipe-bench-"))
    env = tools.environment()
    comparison = sc = None
    try:
        if args.scaling:
            sizes = [int(n) for n in args.sizes.split(",")]
            sc = scaling(sizes, args.shape, args.seed, args.reps, picked[0], workdir, env)
        elif picked:
            settings = Settings(
                args.stages,
                args.shape,
                args.seed,
                args.weight,
                args.reps,
                args.jobs,
                workdir,
                args.keep,
                args.params_every,
                args.edit_stage,
            )
            comparison = compare(settings, picked, env)
    except (CommandFailedError, OutputMismatchError, UsageError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    info = machine.machine(picked, skipped)
    print(report.render(info, comparison, sc, args.markdown))
    if args.out is not None:
        report.write_json(args.out, info, comparison, sc)
    return 0


if __name__ == "__main__":
    sys.exit(main())

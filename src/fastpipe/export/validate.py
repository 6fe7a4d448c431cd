"""`fastpipe export --validate`: run fastpipe and real DVC on two copies, compare every output.

The copies hold the project without fastpipe's or DVC's state and without the exported stages'
outputs, so both tools start from nothing. `fastpipe run` and `dvc repro` run side by side
(DVC in a `dvc init --no-scm` repository, analytics and update checks off, its site cache
inside the temporary directory); then every out, metric and plot is hashed in both copies with
fastpipe's own hashing. A stage whose outputs differ although its deps were identical is
named: it is nondeterministic, or reads something it does not declare.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from fastpipe.context import Context
from fastpipe.errors import DvcError
from fastpipe.export.dvcyaml import ExportPlan, ExportResult
from fastpipe.hashing import StatCache, hash_path
from fastpipe.layout import STATE_DIR

INSTALL_HINT = "pip install 'fastpipe[dvc]'"
_DVC_CONFIG = "[core]\n    analytics = false\n    check_update = false\n"
_SKIPPED_NAMES = frozenset({STATE_DIR, ".dvc", ".git", ".hg", "__pycache__", "dvc.lock"})

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ToolRun:
    """How one tool's run went; `output` is what it printed (stdout and stderr)."""

    tool: str
    command: str
    ok: bool
    seconds: float
    output: str


@dataclass(frozen=True)
class Comparison:
    """One output of one stage as each tool produced it (hash None: missing)."""

    stage: str
    path: str
    fastpipe: str | None
    dvc: str | None

    @property
    def same(self) -> bool:
        return self.fastpipe is not None and self.fastpipe == self.dvc


@dataclass(frozen=True)
class ValidationReport:
    """Both runs and every comparison; `ok` only if both ran and every output is identical."""

    exported: ExportResult
    runs: tuple[ToolRun, ...]
    rows: tuple[Comparison, ...]
    divergent: tuple[str, ...]  # stages with different outputs from identical deps

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs) and all(row.same for row in self.rows)


def find_dvc(interpreter: str | None = None, path: str | None = None) -> str | None:
    """The `dvc` command: beside fastpipe's interpreter (its environment), else on PATH."""
    beside = Path(interpreter or sys.executable).parent / ("dvc.exe" if os.name == "nt" else "dvc")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("dvc", path=path)


def require_dvc() -> str:
    """`find_dvc()`, or a DvcError (exit 2) saying how to install it."""
    found = find_dvc()
    if found is None:
        raise DvcError(
            "`export --validate` needs DVC, which is not installed (no `dvc` beside "
            f"{sys.executable} or on PATH); install it with: {INSTALL_HINT}"
        )
    return found


def validate(
    ctx: Context, exported: ExportResult, targets: Sequence[str], dvc: str, progress: Progress
) -> ValidationReport:
    """Run both tools on fresh copies of the project and compare the exported stages' outputs."""
    plan = exported.plan
    outputs = {path for name in plan.stages for path in ctx.spec(name).outputs}
    written = " and ".join(exported.written)
    progress(f"wrote {written} ({len(plan.stages)} stages)")
    with tempfile.TemporaryDirectory(prefix="fastpipe-validate-") as tmp:
        work = Path(tmp)
        progress(f"copying the project twice into {work}")
        for copy in ("fastpipe", "dvc"):
            copy_project(ctx.root, work / copy, outputs, plan.dvc_yaml)
        runs = _run_both(work, plan, targets, dvc, progress)
        progress(f"comparing {len(outputs)} outputs")
        rows = tuple(_compare(ctx, plan.stages, work))
        divergent = tuple(_divergent(ctx, plan.stages, rows, work))
    return ValidationReport(exported, runs, rows, divergent)


def copy_project(root: Path, target: Path, outputs: set[str], dvc_yaml: str) -> None:
    """Copy the project without tool state, caches, virtualenvs, `outputs` or other DVC files."""

    def skipped(directory: str, names: list[str]) -> list[str]:
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        return [
            name
            for name in names
            if name in _SKIPPED_NAMES
            or prefix + name in outputs
            or name.endswith(".dvc")
            or (name == "dvc.yaml" and prefix + name != dvc_yaml)
            or (Path(directory, name, "pyvenv.cfg").exists())
        ]

    shutil.copytree(root, target, symlinks=True, ignore=skipped)


def _run_both(
    work: Path, plan: ExportPlan, targets: Sequence[str], dvc: str, progress: Progress
) -> tuple[ToolRun, ...]:
    env = _environment(work)
    commands = {
        "fastpipe": [sys.executable, "-m", "fastpipe", "run", "--quiet", *targets],
        "dvc": [dvc, "repro", plan.dvc_yaml],
    }
    shown = {"fastpipe": f"fastpipe run {' '.join(targets)}".strip(), "dvc": "dvc repro"}
    init = _run("dvc", "dvc init", [dvc, "init", "--no-scm", "-q"], work / "dvc", env)
    if not init.ok:
        return (init,)
    (work / "dvc" / ".dvc" / "config.local").write_text(_DVC_CONFIG)
    progress("running `fastpipe run` and `dvc repro` side by side")
    runs: dict[str, ToolRun] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(_run, tool, shown[tool], command, work / tool, env)
            for tool, command in commands.items()
        ]
        for future in as_completed(futures):
            run = future.result()
            runs[run.tool] = run
            progress(f"{run.command}: {'done' if run.ok else 'failed'} in {run.seconds:.1f}s")
    return (runs["fastpipe"], runs["dvc"])


def _environment(work: Path) -> dict[str, str]:
    """Ours, with this interpreter's scripts (the `fastpipe` the cmds call) first on PATH."""
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    # The user's DVC configuration (a shared cache, remotes) stays out of a throwaway repro.
    for variable, directory in (
        ("DVC_SITE_CACHE_DIR", "dvc-site-cache"),
        ("DVC_GLOBAL_CONFIG_DIR", "dvc-global-config"),
        ("DVC_SYSTEM_CONFIG_DIR", "dvc-system-config"),
    ):
        env[variable] = str(work / directory)
    scripts = Path(sys.executable).parent
    if (scripts / "fastpipe").exists():
        env["PATH"] = os.pathsep.join([str(scripts), env.get("PATH", "")])
    return env


def _run(tool: str, shown: str, command: list[str], cwd: Path, env: dict[str, str]) -> ToolRun:
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        return ToolRun(tool, shown, False, time.perf_counter() - start, f"{command[0]}: {exc}")
    return ToolRun(tool, shown, proc.returncode == 0, time.perf_counter() - start, proc.stdout)


def _compare(ctx: Context, stages: Sequence[str], work: Path) -> list[Comparison]:
    rows: list[Comparison] = []
    for name in stages:
        for path in ctx.spec(name).outputs:
            mine, theirs = (_hash(work / tool, path) for tool in ("fastpipe", "dvc"))
            rows.append(Comparison(name, path, mine, theirs))
    return rows


def _hash(root: Path, path: str) -> str | None:
    try:
        found = hash_path(root, path, StatCache.empty())
    except OSError:
        return None
    return found.hash if found else None


def _divergent(
    ctx: Context, stages: Sequence[str], rows: Sequence[Comparison], work: Path
) -> list[str]:
    """Stages that both tools ran on identical deps, with different outputs."""
    differing = {row.stage for row in rows if row.fastpipe and row.dvc and not row.same}
    return [
        name
        for name in stages
        if name in differing
        and all(
            _hash(work / "fastpipe", dep) == _hash(work / "dvc", dep) for dep in ctx.spec(name).deps
        )
    ]

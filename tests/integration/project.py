"""Run the real `fastpipe` command on throwaway projects, and read back what it left on disk."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

TIMEOUT_S = 60.0
COMMAND = (sys.executable, "-m", "fastpipe")
ERROR_PREFIX = "fastpipe: error: "
HEX128 = re.compile(r"^[0-9a-f]{32}$")  # an xxh3-128 digest
REASON_KINDS = {"never_run", "code", "params", "deps", "outs", "upstream"}

# The shared pipeline: raw numbers -> clean -> featurize -> train, and raw -> report; summarize
# reads the outputs of both branches. Every stage appends its name to runs.log when it runs.
PIPELINE = '''\
"""The pipeline of fastpipe's end-to-end tests."""

import json
from pathlib import Path

import helpers

from fastpipe import stage

SCALE = 2
REPORT_KEYS = {"rows", "total", "largest"}  # a set: must hash the same under any hash seed


@stage(deps=["data/raw.txt"], outs=["data/clean.txt"])
def clean(threshold: int = 3) -> None:
    helpers.record("clean")
    numbers = helpers.read_numbers("data/raw.txt")
    helpers.write_numbers("data/clean.txt", [n for n in numbers if n >= threshold])


@stage(deps=["data/clean.txt"], outs=["data/features.txt"])
def featurize() -> None:
    helpers.record("featurize")
    numbers = helpers.read_numbers("data/clean.txt")
    helpers.write_numbers("data/features.txt", [n * SCALE for n in numbers])


@stage(deps=["data/features.txt"], outs=["model.txt"], metrics=["metrics.json"])
def train(lr: float = 0.1, epochs: int = 2) -> None:
    helpers.record("train")
    weight = helpers.fit(helpers.read_numbers("data/features.txt"), lr, epochs)
    Path("model.txt").write_text(f"{weight}\\n")
    Path("metrics.json").write_text(json.dumps({"weight": weight}) + "\\n")


@stage(deps=["data/raw.txt"], outs=["report.txt"])
def report() -> None:
    helpers.record("report")
    numbers = helpers.read_numbers("data/raw.txt")
    stats = {"rows": len(numbers), "total": sum(numbers), "largest": max(numbers)}
    Path("report.txt").write_text("".join(f"{k}={stats[k]}\\n" for k in sorted(REPORT_KEYS)))


@stage(deps=["report.txt", "metrics.json"], outs=["summary.txt"])
def summarize() -> None:
    helpers.record("summarize")
    text = Path("report.txt").read_text() + Path("metrics.json").read_text()
    Path("summary.txt").write_text(text)
'''

HELPERS = '''\
"""Project code the stages call: fingerprinted per stage, by what each stage reaches."""

from pathlib import Path


def record(name: str) -> None:
    with open("runs.log", "a") as f:
        f.write(name + "\\n")


def read_numbers(path: str) -> list[int]:
    return [int(line) for line in Path(path).read_text().split()]


def write_numbers(path: str, numbers: list[int]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{n}\\n" for n in numbers))


def fit(numbers: list[int], lr: float, epochs: int) -> float:
    weight = 0.0
    for _ in range(epochs):
        weight += lr * sum(numbers) / max(len(numbers), 1)
    return round(weight, 6)
'''

RAW = "1\n2\n3\n4\n5\n6\n"
STAGES = ("clean", "featurize", "report", "summarize", "train")
OUTPUTS = (
    "data/clean.txt",
    "data/features.txt",
    "model.txt",
    "metrics.json",
    "report.txt",
    "summary.txt",
)
# Every stage appends to runs.log (a test's record of what ran), which no stage declares.
PYPROJECT = '[tool.fastpipe]\nio_ignore = ["runs.log"]\n'
BASE_FILES = {
    "pipeline.py": PIPELINE,
    "helpers.py": HELPERS,
    "data/raw.txt": RAW,
    "pyproject.toml": PYPROJECT,
}


class Result(NamedTuple):
    """What one `fastpipe` invocation did."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a fastpipe subprocess: ours, minus fastpipe settings, no .pyc files.

    No bytecode cache: a test edits a module and runs again within the same second, where a
    stale .pyc of the same size would be picked up by Python itself.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTPIPE_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    env.update(extra or {})
    return env


def fastpipe(
    *args: str,
    cwd: Path,
    timeout: float = TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run `python -m fastpipe ARGS` in `cwd` and capture everything."""
    proc = subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=command_env(env),
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def python_code(code: str, *args: str, cwd: Path, timeout: float = TIMEOUT_S) -> Result:
    """Run `python -c CODE ARGS` in `cwd` (a probe around fastpipe's entry) and capture it."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=command_env(),
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def start(*args: str, cwd: Path, new_session: bool = False) -> subprocess.Popen[str]:
    """Start `python -m fastpipe ARGS` in `cwd` without waiting for it."""
    return subprocess.Popen(
        [*COMMAND, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(),
        start_new_session=new_session,
    )


def check_status_json(text: str) -> dict[str, dict[str, Any]]:
    """Parse `status --json` output, checking SPEC 6's exact schema; name -> stage object."""
    data = json.loads(text)
    assert isinstance(data, dict) and set(data) == {"stages"}, data
    stages: dict[str, dict[str, Any]] = {}
    for entry in data["stages"]:
        # `accepted`: only on a stage whose lock `fastpipe accept` wrote
        assert set(entry) - {"accepted"} == {"name", "status", "reasons", "action"}, entry
        assert entry["status"] in ("fresh", "stale"), entry
        assert entry["action"] in (("none",) if entry["status"] == "fresh" else ("run", "restore"))
        assert (entry["status"] == "stale") == bool(entry["reasons"]), entry
        for reason in entry["reasons"]:
            check_reason(reason, {"kind", "items", "detail"})
        stages[entry["name"]] = entry
    return stages


def check_reason(reason: dict[str, Any], keys: set[str]) -> None:
    """A reason object has exactly `keys`, a known kind, string items and a string detail."""
    assert set(reason) == keys, reason
    assert reason["kind"] in REASON_KINDS, reason
    assert isinstance(reason["items"], list), reason
    assert all(isinstance(item, str) for item in reason["items"]), reason
    assert isinstance(reason["detail"], str) and reason["detail"], reason


class Project:
    """A project directory: write and edit its files, run fastpipe in it, read its state."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- files

    def path(self, relpath: str) -> Path:
        return self.root / relpath

    def write(self, relpath: str, text: str) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def write_files(self, files: Mapping[str, str]) -> None:
        for relpath, text in files.items():
            self.write(relpath, text)

    def append(self, relpath: str, text: str) -> None:
        with (self.root / relpath).open("a") as f:
            f.write(textwrap.dedent(text))

    def edit(self, relpath: str, old: str, new: str) -> None:
        """Replace the one occurrence of `old` in a file by `new`."""
        path = self.root / relpath
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} is not in {relpath} exactly once"
        path.write_text(text.replace(old, new))

    def read(self, relpath: str) -> str:
        return (self.root / relpath).read_text()

    def exists(self, relpath: str) -> bool:
        return (self.root / relpath).exists()

    # -- fastpipe

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        """`fastpipe ARGS` with the project root as the working directory."""
        return fastpipe(*args, cwd=self.root, env=env)

    def run_from(self, cwd: Path, *args: str) -> Result:
        """`fastpipe -C ROOT ARGS` started in another directory."""
        return fastpipe("-C", str(self.root), *args, cwd=cwd)

    def ok(self, *args: str) -> Result:
        """`fastpipe ARGS`, which must succeed."""
        result = self.run(*args)
        assert result.code == 0, result
        return result

    def status(self, *args: str) -> dict[str, dict[str, Any]]:
        """`status --json ARGS`, schema-checked: stage name -> {name, status, reasons}."""
        result = self.ok("status", "--json", *args)
        return check_status_json(result.out)

    def stale(self, *args: str) -> dict[str, dict[str, dict[str, Any]]]:
        """The stale stages from `status --json`: name -> kind -> reason."""
        return {
            name: {reason["kind"]: reason for reason in entry["reasons"]}
            for name, entry in self.status(*args).items()
            if entry["status"] == "stale"
        }

    # -- state

    def lock_path(self, stage: str) -> Path:
        return self.root / ".fastpipe" / "stages" / f"{stage}.lock"

    def lock(self, stage: str) -> dict[str, Any]:
        data = yaml.safe_load(self.lock_path(stage).read_text())
        assert isinstance(data, dict), data
        return data

    def locks(self) -> dict[str, bytes]:
        """Every lock file's bytes, by file name."""
        stages = self.root / ".fastpipe" / "stages"
        return {p.name: p.read_bytes() for p in sorted(stages.glob("*.lock"))}

    def lock_stats(self) -> dict[str, tuple[int, int, bytes]]:
        """(inode, mtime_ns, bytes) of each lock: any rewrite, even atomic, changes one."""
        stages = self.root / ".fastpipe" / "stages"
        found: dict[str, tuple[int, int, bytes]] = {}
        for path in sorted(stages.glob("*.lock")):
            st = path.stat()
            found[path.name] = (st.st_ino, st.st_mtime_ns, path.read_bytes())
        return found

    def log(self, stage: str) -> str:
        return (self.root / ".fastpipe" / "logs" / f"{stage}.log").read_text()

    def runs(self) -> list[str]:
        """The stages that ran since the last clear_runs(), in order (from runs.log)."""
        path = self.root / "runs.log"
        return path.read_text().split() if path.exists() else []

    def clear_runs(self) -> None:
        (self.root / "runs.log").unlink(missing_ok=True)

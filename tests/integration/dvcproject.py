"""Drive the real `dvc` command next to `fastpipe` on throwaway projects (offline, quiet).

DVC runs the exported cmds (`fastpipe exec STAGE`), so this interpreter's scripts come first on
PATH. Analytics and update checks are off, and DVC's site cache and global/system configs live
in the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from fastpipe.export.validate import find_dvc
from tests.integration.project import HELPERS, Result, command_env

DVC = find_dvc()
requires_dvc = pytest.mark.skipif(
    DVC is None, reason="dvc is not installed (pip install 'fastpipe[dvc]', or '.[dev]')"
)
DVC_TIMEOUT_S = 180.0
_NOT_COPIED = (".fastpipe", "__pycache__", ".dvc", ".git", "dvc.lock", "runs.log")

# The bridge's own pipeline: params overridden in params.yaml, a directory out with a nested
# directory and a CRLF text file, metrics and plots, a stage reaching no helper.
PIPELINE = '''\
"""The pipeline of the DVC bridge tests."""

import json
from pathlib import Path

import helpers

from fastpipe import stage


@stage(deps=["data/raw.txt"], outs=["data/clean.txt"])
def clean(threshold: int = 3) -> None:
    helpers.record("clean")
    numbers = helpers.read_numbers("data/raw.txt")
    helpers.write_numbers("data/clean.txt", [n for n in numbers if n >= threshold])


@stage(deps=["data/clean.txt"], outs=["shards"])
def shard(parts: int = 2) -> None:
    helpers.record("shard")
    numbers = helpers.read_numbers("data/clean.txt")
    for i in range(parts):
        helpers.write_numbers(f"shards/part-{i}.txt", numbers[i::parts])
    Path("shards/nested").mkdir(parents=True, exist_ok=True)
    Path("shards/nested/windows.txt").write_bytes(b"written\\r\\non windows\\r\\n")


@stage(deps=["shards"], outs=["model.txt"], metrics=["metrics.json"], plots=["loss.csv"])
def train(lr: float = 0.1, epochs: int = 2) -> None:
    helpers.record("train")
    parts = sorted(Path("shards").glob("part-*.txt"))
    numbers = [n for part in parts for n in helpers.read_numbers(str(part))]
    weight = helpers.fit(numbers, lr, epochs)
    Path("model.txt").write_text(f"{weight}\\n")
    Path("metrics.json").write_text(json.dumps({"weight": weight, "n": len(numbers)}) + "\\n")
    Path("loss.csv").write_text("".join(f"{e},{weight / (e + 1)}\\n" for e in range(epochs)))


@stage(deps=["data/raw.txt"], outs=["report.txt"])
def report() -> None:
    rows = Path("data/raw.txt").read_text().split()
    Path("report.txt").write_text(f"rows={len(rows)}\\n")
'''

PARAMS = "clean:\n  threshold: 2\ntrain:\n  lr: 0.5\n  epochs: 3\n"
FILES = {
    "pipeline.py": PIPELINE,
    "helpers.py": HELPERS,
    "params.yaml": PARAMS,
    "data/raw.txt": "1\n2\n3\n4\n5\n6\n7\n",
}
OUTPUTS = ("data/clean.txt", "shards", "model.txt", "metrics.json", "loss.csv", "report.txt")


def dvc_env(tmp: Path) -> dict[str, str]:
    """The environment for dvc and fastpipe subprocesses in these tests."""
    scripts = str(Path(sys.executable).parent)
    return command_env(
        {
            "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")]),
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site-cache"),
            "DVC_GLOBAL_CONFIG_DIR": str(tmp / "dvc-global"),
            "DVC_SYSTEM_CONFIG_DIR": str(tmp / "dvc-system"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "fastpipe tests",
            "GIT_AUTHOR_EMAIL": "tests@fastpipe.invalid",
            "GIT_COMMITTER_NAME": "fastpipe tests",
            "GIT_COMMITTER_EMAIL": "tests@fastpipe.invalid",
        }
    )


def dvc(*args: str, cwd: Path) -> Result:
    """Run `dvc ARGS` in `cwd` (a project under a pytest temporary directory)."""
    assert DVC is not None
    proc = subprocess.run(
        [DVC, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=DVC_TIMEOUT_S,
        env=dvc_env(cwd.parent),
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def dvc_ok(*args: str, cwd: Path) -> Result:
    result = dvc(*args, cwd=cwd)
    assert result.code == 0, result
    return result


def init_repo(root: Path) -> None:
    """`git init && dvc init`, as a user adopting DVC does, with update checks off."""
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=dvc_env(root.parent))
    dvc_ok("init", "-q", cwd=root)
    (root / ".dvc" / "config.local").write_text("[core]\n    check_update = false\n")


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a project without any tool state (and without runs.log)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    return target


def contents(root: Path, paths: Iterable[str]) -> dict[str, bytes]:
    """Each path's bytes; a directory as each file below it (relative path -> bytes)."""
    found: dict[str, bytes] = {}
    for path in paths:
        target = root / path
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        for file in files:
            found[file.relative_to(root).as_posix()] = file.read_bytes()
    return found


def dvc_status(root: Path) -> dict[str, Any]:
    """`dvc status --json`: stage name -> its list of changes ({} when up to date)."""
    data = json.loads(dvc_ok("status", "--json", cwd=root).out or "{}")
    assert isinstance(data, dict), data
    return data

"""The two tools under test: where their commands are, what each benchmark step runs, and the
environment they run in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

FASTPIPE = "fastpipe"
DVC = "dvc"
TOOLS = (FASTPIPE, DVC)
DVC_HINT = "pip install 'fastpipe[dvc]'"


@dataclass(frozen=True)
class Tool:
    """A tool's executable and the command line of each benchmark step."""

    name: str
    exe: str
    version: str
    jobs: int

    def command(self, step: str) -> list[str]:
        """The command a user types for `step` (help, a run, or status)."""
        if step == "help":
            return [self.exe, "--help"]
        if step == "status":
            return [self.exe, "status"]
        if self.name == FASTPIPE:
            return [self.exe, "run", "-j", str(self.jobs)]
        return [self.exe, "repro"]  # DVC 3 runs stages one at a time: repro has no --jobs


def find_executable(name: str) -> str | None:
    """`name` beside this interpreter (the venv's console script), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def environment() -> dict[str, str]:
    """The environment both tools run in.

    The interpreter's bin directory comes first on PATH, so DVC's `python stages/X.py` is the
    same Python fastpipe runs. PYTHONDONTWRITEBYTECODE is dropped: a user's Python caches
    bytecode, and both tools' start-up depends on it. DVC sends no analytics.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def fastpipe(jobs: int) -> Tool:
    exe = find_executable(FASTPIPE)
    if exe is None:
        raise SystemExit(f"no `fastpipe` beside {sys.executable} or on PATH: pip install -e .")
    return Tool(FASTPIPE, exe, metadata.version("fastpipe"), jobs)


def dvc(jobs: int) -> Tool | None:
    """DVC if installed (None otherwise: the harness then skips its rows)."""
    exe = find_executable(DVC)
    if exe is None:
        return None
    done = subprocess.run(
        [exe, "--version"], capture_output=True, text=True, env=environment(), check=False
    )
    if done.returncode != 0:
        return None
    return Tool(DVC, exe, done.stdout.strip(), jobs)

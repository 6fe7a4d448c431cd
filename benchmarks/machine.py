"""Facts about the machine and software a benchmark ran on, recorded with its results."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from tools import Tool, environment

_REPO = Path(__file__).resolve().parents[1]


def machine(tools: Sequence[Tool], skipped: dict[str, str]) -> dict[str, Any]:
    where = _fastpipe_from()
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "fastpipe_from": where,
        "checkout": _source_state() if where and where.startswith(str(_REPO)) else None,
        "numpy": _version("numpy"),
        "pandas": _version("pandas"),
    }
    info.update({f"{tool.name}_version": tool.version for tool in tools})
    info.update({f"{name}_skipped": why for name, why in skipped.items()})
    return info


def _fastpipe_from() -> str | None:
    """The package directory the benchmarked `fastpipe` imports (PYTHONPATH can redirect it)."""
    done = subprocess.run(
        [sys.executable, "-c", "import fastpipe, os; print(os.path.dirname(fastpipe.__file__))"],
        capture_output=True,
        text=True,
        env=environment(),
        check=False,
    )
    return done.stdout.strip() or None


def _source_state() -> str | None:
    """This checkout's commit, '+ uncommitted changes' if its src/ differs from it."""
    repo = _REPO
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head} + uncommitted changes" if dirty else head


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None

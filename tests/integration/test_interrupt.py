"""Ctrl-C during a run: stages end promptly with their children, no lock, no orphans (SPEC 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# "Promptly": far below how long the stages would run, with a margin no loaded machine misses.
PROMPT_S = 30.0
PIPELINE = """
import subprocess, time
from pathlib import Path
from fastpipe import stage

@stage(outs=["done.txt"])
def quick() -> None:
    Path("done.txt").write_text("ok")

@stage(deps=["done.txt"], outs=["slow.txt"])
def slow() -> None:
    child = subprocess.Popen(["sleep", "120"])
    Path("child.pid").write_text(str(child.pid))
    time.sleep(120)
    Path("slow.txt").write_text("never")

@stage(outs=["waiting.txt"])
def waiting() -> None:  # sorts after slow: with one stage at a time it never starts
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("executor", ["warm", "process", "inline", "dask"])
def test_ctrl_c_stops_the_run_within_two_seconds(tmp_path: Path, executor: str) -> None:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    run = subprocess.Popen(
        [sys.executable, "-m", "fastpipe", "run", "-j", "2", "--quiet", "--executor", executor],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_a_terminal_sends_it,
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "child.pid").exists(), run.stderr.read() if run.stderr else ""
    grandchild = int((tmp_path / "child.pid").read_text())
    start = time.monotonic()
    os.kill(run.pid, signal.SIGINT)
    code = run.wait(PROMPT_S)
    elapsed = time.monotonic() - start
    assert code == 130
    assert elapsed < PROMPT_S, f"took {elapsed:.1f}s to stop"  # the stages sleep 120 s
    locks = tmp_path / ".fastpipe" / "stages"
    assert (locks / "quick.lock").exists()
    assert not (locks / "slow.lock").exists()
    assert not (locks / "waiting.lock").exists()
    deadline = time.monotonic() + PROMPT_S
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild), "the stage's child process outlived Ctrl-C"


def _sigint_as_a_terminal_sends_it() -> None:
    """In the child, before exec: SIGINT handled by default, whatever the runner's disposition
    (a test runner started in the background ignores it, and Python then never raises
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

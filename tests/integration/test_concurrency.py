"""Two `fastpipe run` at once in one project, and Ctrl-C during a run.

The stage holds the run open until the test creates a `release` file (or 20 s pass), so the
second command surely meets a run in progress, however slow the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import ERROR_PREFIX, TIMEOUT_S, Project, start

HELD = """\
import os
import time
from pathlib import Path

from fastpipe import stage


@stage(outs=["held.txt"])
def held() -> None:
    with open("runs.log", "a") as f:
        f.write("held\\n")
    deadline = time.monotonic() + 20
    while not os.path.exists("release") and time.monotonic() < deadline:
        time.sleep(0.02)
    Path("held.txt").write_text("done\\n")
"""


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _collect(stream: IO[str] | None, into: list[str]) -> threading.Thread:
    """Read a process's text stream line by line into `into`, in a thread."""
    assert stream is not None

    def pump() -> None:
        for line in stream:
            into.append(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _start_holding(project: Project, *, new_session: bool = False) -> subprocess.Popen[str]:
    """Start `fastpipe run` and return once its stage is running."""
    first = start("run", cwd=project.root, new_session=new_session)
    _wait_until(lambda: project.exists("runs.log") or first.poll() is not None, "the stage")
    assert first.poll() is None, first.communicate()
    return first


@pytest.fixture
def held_project(make_project: MakeProject) -> Project:
    return make_project({"pipeline.py": HELD})


def test_second_run_waits_then_finds_everything_fresh(held_project: Project) -> None:
    project = held_project
    first = _start_holding(project)
    second = start("run", cwd=project.root)
    err: list[str] = []
    reader = _collect(second.stderr, err)
    try:
        _wait_until(
            lambda: (
                any("another fastpipe run" in line for line in err) or second.poll() is not None
            ),
            "the second run to say it waits",
        )
        assert second.poll() is None, err  # still waiting: it did not run alongside
    finally:
        project.path("release").touch()
    out1, err1 = first.communicate(timeout=TIMEOUT_S)
    second.wait(timeout=TIMEOUT_S)  # its stderr belongs to the reader thread
    reader.join(timeout=5)
    assert second.stdout is not None
    out2 = second.stdout.read()

    assert first.returncode == 0, err1
    assert second.returncode == 0, err
    assert project.runs() == ["held"]
    assert "1 ran" in out1 and "0 ran" in out2, (out1, out2)


def test_second_run_with_no_wait_refuses(held_project: Project) -> None:
    project = held_project
    first = _start_holding(project)
    try:
        result = project.run("run", "--no-wait")
    finally:
        project.path("release").touch()
    first.communicate(timeout=TIMEOUT_S)

    assert result.code == 2, result
    assert result.err_lines == [f"{ERROR_PREFIX}another fastpipe run is active in this project"]
    assert first.returncode == 0
    assert project.runs() == ["held"]
    assert project.lock_path("held").exists()


def test_ctrl_c_stops_the_run_without_a_lock(held_project: Project) -> None:
    project = held_project
    first = _start_holding(project, new_session=True)

    os.killpg(first.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    try:
        first.communicate(timeout=15)
    finally:
        project.path("release").touch()

    assert first.returncode == 130
    assert not project.lock_path("held").exists()
    assert not project.exists("held.txt")

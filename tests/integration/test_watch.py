"""`fastpipe run --watch` as a real process: edits on disk, reruns seen in a marker file,
a broken edit survived, Ctrl-C exiting 130 with no process left behind (guide.md)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.project import Project, command_env

PIPELINE = """\
from pathlib import Path

import helpers
from fastpipe import stage


@stage(deps=["input.txt"], outs=["a.txt"])
def a() -> None:
    helpers.mark("a")
    Path("a.txt").write_text(helpers.fa(Path("input.txt").read_text()))


@stage(outs=["b.txt"])
def b(factor: int = 2) -> None:
    helpers.mark("b")
    Path("b.txt").write_text(str(helpers.fb(factor)))
"""

HELPERS = """\
def mark(name: str) -> None:
    with open("runs.log", "a") as f:
        f.write(name + "\\n")


def fa(text: str) -> str:
    return text.upper()


def fb(factor: int) -> int:
    return 10 * factor
"""

WAIT_S = 30.0
# SIGINT as a terminal delivers it, whatever the test runner's own disposition.
LAUNCH = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from fastpipe.cli import main; sys.argv[0] = 'fastpipe'; main()"
)


class Watcher:
    """A running `fastpipe run --watch` and the lines it prints."""

    def __init__(self, root: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "run", "--watch", *args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=command_env(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True).start()

    def _pump(self, stream: object, out: bool) -> None:
        for line in stream:  # pyright: ignore[reportGeneralTypeIssues]
            if out:
                self.lines.put(line.rstrip("\n"))
            else:
                self.err.append(line.rstrip("\n"))

    def summary(self) -> str:
        """The next `watch:` summary line."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, f"watch exited: {self.err}"
                continue
            if line.startswith("watch: "):
                return line
        raise AssertionError(f"no summary line within {WAIT_S}s; stderr: {self.err}")


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Project, Watcher]]:
    project = Project(tmp_path / "project")
    project.write_files({"pipeline.py": PIPELINE, "helpers.py": HELPERS, "input.txt": "x\n"})
    watcher = Watcher(project.root, "--executor", "warm", "-j", "2")
    try:
        yield project, watcher
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
        watcher.proc.wait(10)


def test_edits_rerun_exactly_what_they_reach_until_ctrl_c(
    watched: tuple[Project, Watcher],
) -> None:
    project, watcher = watched
    assert watcher.summary().startswith("watch: first run: 2 ran, 0 fresh")
    assert sorted(project.runs()) == ["a", "b"]

    project.clear_runs()
    project.edit("helpers.py", "10 * factor", "11 * factor")
    line = watcher.summary()
    assert line.startswith("watch: cycle 1 (helpers.py changed): 1 ran, 1 fresh"), line
    assert project.runs() == ["b"]
    assert project.read("b.txt") == "22"  # the warm server imported the edited helper

    project.clear_runs()
    project.path("a.txt").write_text("tampered by hand\n")  # an out: no cycle
    project.path("input.txt").write_text("y\n")  # a dep: a cycle
    line = watcher.summary()
    assert line.startswith("watch: cycle 2 (input.txt changed): 1 ran, 1 fresh"), line
    assert project.runs() == ["a"] and project.read("a.txt") == "Y\n"

    project.clear_runs()
    project.write("params.yaml", "b:\n  factor: 3\n")
    assert watcher.summary().startswith("watch: cycle 3 (params.yaml changed): 1 ran")
    assert project.runs() == ["b"] and project.read("b.txt") == "33"

    project.clear_runs()
    project.append("pipeline.py", "broken = (\n")
    line = watcher.summary()
    assert line.startswith("watch: cycle 4 (pipeline.py changed): error"), line
    assert any(e.startswith("fastpipe: error: importing the pipeline") for e in watcher.err)
    project.edit("pipeline.py", "broken = (\n", "")
    assert watcher.summary().startswith("watch: cycle 5 (pipeline.py changed): 0 ran, 2 fresh")
    assert project.runs() == []

    below = descendants(watcher.proc.pid)
    assert below, "the warm server runs under the watch"
    watcher.proc.send_signal(signal.SIGINT)
    assert watcher.proc.wait(10) == 130
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in below if alive(pid)], "a process outlived Ctrl-C"

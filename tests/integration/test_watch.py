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

    def error_line(self, text: str) -> str:
        """The first stderr line holding `text` (stderr is read by its own thread, so a line
        printed before a summary may arrive after it)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = [line for line in self.err if text in line]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no stderr line with {text!r} within {WAIT_S}s; stderr: {self.err}")


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
    assert watcher.error_line("fastpipe: error: importing the pipeline").startswith("fastpipe:")
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


LAYERED = """\
from pathlib import Path

import deep_user
from fastpipe import stage
from helpers import fa, mark


@stage(outs=["a.txt"])
def a() -> None:
    mark("a")
    Path("a.txt").write_text(fa())


@stage(deps=["a.txt"], outs=["e.txt"])
def e() -> None:
    mark("e")
    Path("e.txt").write_text(Path("a.txt").read_text() + "!")


@stage(outs=["b.txt"])
def b() -> None:
    mark("b")
    Path("b.txt").write_text(deep_user.fb())


@stage(outs=["c.txt"])
def c() -> None:
    mark("c")
    Path("c.txt").write_text("c")
"""

LAYERED_FILES = {
    "pipeline.py": LAYERED,
    "helpers.py": HELPERS.replace("def fa(text: str) -> str:\n    return text.upper()", "")
    + "\n\ndef fa() -> str:\n    return 'A1'\n",
    # a helper of a helper: deep_user imports deep
    "deep_user.py": "import deep\n\n\ndef fb() -> str:\n    return deep.value() + '.'\n",
    "deep.py": "def value() -> str:\n    return 'v1'\n",
}


@pytest.fixture
def layered(tmp_path: Path) -> Iterator[tuple[Project, Watcher]]:
    project = Project(tmp_path / "project")
    project.write_files(LAYERED_FILES)
    watcher = Watcher(project.root, "--executor", "warm", "-j", "2")
    try:
        yield project, watcher
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
        watcher.proc.wait(10)


def test_imported_helpers_edited_rerun_what_reaches_them_with_the_new_code(
    layered: tuple[Project, Watcher],
) -> None:
    project, watcher = layered
    assert watcher.summary().startswith("watch: first run: 4 ran, 0 fresh")

    # `from helpers import fa` in pipeline.py: the stage runs the edited fa, not the old one.
    project.clear_runs()
    project.edit("helpers.py", "'A1'", "'A2'")
    line = watcher.summary()
    assert line.startswith("watch: cycle 1 (helpers.py changed): 2 ran, 2 fresh"), line
    assert sorted(project.runs()) == ["a", "e"]  # e: downstream of a's changed out
    assert project.read("a.txt") == "A2" and project.read("e.txt") == "A2!"

    # A helper of a helper (deep_user imports deep): only the stage reaching deep reruns.
    project.clear_runs()
    project.edit("deep.py", "'v1'", "'v2'")
    line = watcher.summary()
    assert line.startswith("watch: cycle 2 (deep.py changed): 1 ran, 3 fresh"), line
    assert project.runs() == ["b"] and project.read("b.txt") == "v2."

    # A broken edit: the error, nothing run; its fix runs the fixed code.
    project.clear_runs()
    project.edit("deep.py", "return 'v2'", "return ('v2'")
    line = watcher.summary()
    assert line.startswith("watch: cycle 3 (deep.py changed): error"), line
    assert watcher.error_line("SyntaxError")
    project.edit("deep.py", "return ('v2'", "return 'v3'")
    line = watcher.summary()
    assert line.startswith("watch: cycle 4 (deep.py changed): 1 ran, 3 fresh"), line
    assert project.runs() == ["b"] and project.read("b.txt") == "v3."
    assert project.stale() == {}


def test_pipeline_edits_and_quick_successive_edits_end_in_the_right_state(
    layered: tuple[Project, Watcher],
) -> None:
    project, watcher = layered
    assert watcher.summary().startswith("watch: first run: 4 ran, 0 fresh")

    # The pipeline module itself: a stage added, another's decorator changed.
    project.clear_runs()
    project.write("input.txt", "in")
    text = LAYERED.replace('@stage(outs=["c.txt"])', '@stage(deps=["input.txt"], outs=["c.txt"])')
    project.write(
        "pipeline.py",
        text + '\n\n@stage(outs=["d.txt"])\ndef d() -> None:\n'
        '    mark("d")\n    Path("d.txt").write_text(fa() + "d")\n',
    )
    line = watcher.summary()
    assert " 2 ran, 3 fresh" in line, line
    assert sorted(project.runs()) == ["c", "d"] and project.read("d.txt") == "A1d"

    # Two edits of a helper, the second while the first one's cycle runs: the last edit wins.
    project.clear_runs()
    project.edit("deep.py", "'v1'", "'v2'")
    deadline = time.monotonic() + WAIT_S
    while "b" not in project.runs() and time.monotonic() < deadline:
        time.sleep(0.005)
    project.edit("deep.py", "'v2'", "'v3'")
    for _ in range(2):
        watcher.summary()
        if project.read("b.txt") == "v3.":
            break
    assert project.read("b.txt") == "v3.", project.read("b.txt")
    assert set(project.runs()) == {"b"}
    assert project.stale() == {}

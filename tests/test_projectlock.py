"""Tests for fastpipe.projectlock: one `fastpipe run` per project at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastpipe.errors import ProjectBusyError
from fastpipe.projectlock import BUSY_MESSAGE, hold

# Holds the lock until its stdin closes; says "held" once it has it.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fastpipe.projectlock import hold

    with hold(Path(sys.argv[1]), wait=False, on_wait=print):
        print("held", flush=True)
        sys.stdin.read()
    print("released", flush=True)
    """
)


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / ".fastpipe" / "run.lock"


@pytest.fixture
def holder(lock_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the project lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "held\n"
        yield proc
    finally:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()


def never_called(message: str) -> None:
    raise AssertionError(f"on_wait called: {message}")


def test_busy_project_refuses_without_waiting(
    lock_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(ProjectBusyError) as info, hold(lock_path, wait=False, on_wait=never_called):
        pytest.fail("got the lock while another process holds it")
    assert str(info.value) == "another fastpipe run is active in this project"
    assert str(info.value) == BUSY_MESSAGE


def test_waits_for_the_holder_then_proceeds(lock_path: Path, holder: subprocess.Popen[str]) -> None:
    messages: list[str] = []

    def on_wait(message: str) -> None:
        messages.append(message)
        release(holder)  # the other run ends while we wait

    with hold(lock_path, wait=True, on_wait=on_wait):
        assert holder.stdout is not None
        assert holder.stdout.readline() == "released\n"  # it let go before we got in
        assert lock_path.read_text() == f"{os.getpid()}\n"
    assert messages == [f"{BUSY_MESSAGE} (pid {holder.pid}); waiting for it"]


def test_free_project_is_held_without_waiting(lock_path: Path) -> None:
    with hold(lock_path, wait=True, on_wait=never_called):
        assert lock_path.parent.is_dir()
        assert lock_path.read_text() == f"{os.getpid()}\n"
        # Another open file description (another run) is refused while we hold it.
        with (
            pytest.raises(ProjectBusyError, match=BUSY_MESSAGE),
            hold(lock_path, wait=False, on_wait=never_called),
        ):
            pass


def test_released_after_an_exception(lock_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="stage blew up"),
        hold(lock_path, wait=False, on_wait=never_called),
    ):
        raise RuntimeError("stage blew up")
    with hold(lock_path, wait=False, on_wait=never_called):
        pass


def test_released_for_other_processes_after_the_context(lock_path: Path) -> None:
    with hold(lock_path, wait=False, on_wait=never_called):
        pass
    done = subprocess.run(
        [sys.executable, "-c", HOLDER, str(lock_path)],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "held\nreleased\n"


def test_stale_pid_text_is_replaced(lock_path: Path) -> None:
    lock_path.parent.mkdir(parents=True)
    lock_path.write_text("999999999\nleftover from a crashed run\n")
    with hold(lock_path, wait=False, on_wait=never_called):
        assert lock_path.read_text() == f"{os.getpid()}\n"

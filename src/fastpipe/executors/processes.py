"""Shared by the executors that run each stage in a process of its own (warm, process).

A stage process leads its own process group, so a timeout or Ctrl-C can end the stage and
everything it started; it dies with its parent, so a killed `fastpipe run` leaves no stage
running that could still write outputs behind the next run's back.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable

from fastpipe.worker import StageResult, StageTask

_PR_SET_PDEATHSIG = 1
KILL_GRACE_S = 0.5  # between SIGTERM and SIGKILL when stopping a stage's process group


def pdeathsig_setter() -> Callable[[], object] | None:
    """A call that asks Linux to SIGKILL the calling process when its parent dies (None where
    there is no prctl). Load it once in a process that forks: loading libc again in every
    forked child costs it ~0.2 ms."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, _PR_SET_PDEATHSIG, signal.SIGKILL)


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim; nothing elsewhere).

    A process that forks a stage per request calls it once its imports are done: compiling a
    big never-compiled module leaves hundreds of MiB of freed but still mapped heap behind,
    and every fork copies the page tables of what is mapped (every exit tears them down), so
    each stage's fork would cost more the more stages the pipeline declares."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def die_with_parent(
    expected_parent: int, set_pdeathsig: Callable[[], object] | None = None
) -> None:
    """Make this process die with its parent (`set_pdeathsig`: from pdeathsig_setter)."""
    setter = set_pdeathsig or pdeathsig_setter()
    if setter is not None:
        with contextlib.suppress(OSError):
            setter()
    if os.getppid() != expected_parent:  # the parent died before prctl took effect
        os._exit(1)


def kill_groups(pids: Iterable[int], *, grace: float = KILL_GRACE_S) -> None:
    """Stop the process groups led by `pids`: SIGTERM, then SIGKILL after `grace` seconds."""
    alive = [pid for pid in pids if _signal_group(pid, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)  # bounded: at most `grace`, only while stopping stages
        alive = [pid for pid in alive if _signal_group(pid, 0)]
    for pid in alive:
        _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> bool:
    """Send `sig` to the group led by `pid` (or the process alone); False if it is gone."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):  # not (yet) a group leader: the process
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
    return True


def death_result(task: StageTask, status: int, duration: float) -> StageResult:
    """The result of a stage whose process ended without reporting one."""
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else -status
        hint = " (out of memory?)" if -status == signal.SIGKILL else ""
        error = f"stage '{task.name}': its process was killed by {name}{hint}"
    else:
        error = f"stage '{task.name}': its process exited with code {status} without a result"
    return StageResult(task.name, False, duration=duration, error=error)


def timeout_result(task: StageTask, duration: float) -> StageResult:
    return StageResult(
        task.name,
        False,
        duration=duration,
        error=f"stage '{task.name}' timed out after {task.timeout:g}s and was killed",
    )


class OutputRelay:
    """A pipe that stage processes write their stderr to; each line goes to `on_line`.

    Stage processes echo their output as `[stage] line` (worker.captured_output); relaying it
    through this process lets the CLI show it with the progress display, or as events.
    """

    def __init__(self, on_line: Callable[[str], None]) -> None:
        read_end, self.write_fd = os.pipe()
        self._thread = threading.Thread(
            target=self._pump, args=(read_end, on_line), name="fastpipe-output", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _pump(read_end: int, on_line: Callable[[str], None]) -> None:
        with os.fdopen(read_end, "rb") as source:
            for raw in source:
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))

    def close(self, timeout: float = 2.0) -> None:
        """Stop relaying once every writer has closed the pipe (waits at most `timeout`)."""
        with contextlib.suppress(OSError):
            os.close(self.write_fd)
        self._thread.join(timeout)

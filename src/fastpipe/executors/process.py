"""The `process` executor: every stage in a freshly started interpreter (portable, cold)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Self

from fastpipe.executors.base import Capabilities
from fastpipe.executors.processes import (
    OutputRelay,
    death_result,
    kill_groups,
    timeout_result,
)
from fastpipe.worker import StageResult, StageTask, run_stage

if TYPE_CHECKING:
    from fastpipe.stage import StageSpec

CAPABILITIES = Capabilities(isolated=True, concurrent=True)


class ProcessExecutor:
    """Starts `python -m fastpipe.executors.child` per stage; kills it on timeout or shutdown."""

    def __init__(self, on_output: Callable[[str], None], label: str = "") -> None:
        self._relay = OutputRelay(on_output)
        self._label = (label,) if label else ()  # on the command line: finds the process again
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._watchers: list[threading.Thread] = []

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def submit(self, task: StageTask, /) -> Future[StageResult]:
        future: Future[StageResult] = Future()
        future.set_running_or_notify_cancel()
        read_end, write_end = os.pipe()
        command = [sys.executable, "-m", "fastpipe.executors.child", str(write_end)]
        proc = subprocess.Popen(
            [*command, str(os.getpid()), *self._label],
            stdin=subprocess.PIPE,
            stdout=self._relay.write_fd,
            stderr=self._relay.write_fd,
            pass_fds=(write_end,),
            start_new_session=True,  # its own process group: a timeout ends its children too
        )
        os.close(write_end)
        assert proc.stdin is not None
        payload = (run_stage, (task,), {})
        proc.stdin.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        proc.stdin.close()
        with self._lock:
            self._running[proc.pid] = proc
        watcher = threading.Thread(
            target=self._watch, args=(proc, read_end, future, task), daemon=True
        )
        self._watchers.append(watcher)
        watcher.start()
        return future

    def _watch(
        self,
        proc: subprocess.Popen[bytes],
        read_end: int,
        future: Future[StageResult],
        task: StageTask,
    ) -> None:
        start = time.monotonic()
        timed_out = threading.Event()
        timer = None
        if task.timeout:
            timer = threading.Timer(task.timeout, _expire, (proc.pid, timed_out))
            timer.daemon = True
            timer.start()
        with os.fdopen(read_end, "rb") as results:
            data = results.read()
        status = proc.wait()
        if timer is not None:
            timer.cancel()
        with self._lock:
            self._running.pop(proc.pid, None)
        try:
            future.set_result(_outcome(data, status, task, timed_out.is_set(), start))
        except Exception as exc:  # never leave the future pending (a result that cannot load)
            future.set_exception(exc)

    def warm_up(
        self, modules: Sequence[str], stages: Mapping[str, StageSpec] | None = None, /
    ) -> None:
        """Every stage starts a fresh interpreter, which imports what it uses itself."""

    def reload(self, modules: Sequence[str], /) -> None:
        """Every stage starts a fresh interpreter: it imports the edited code itself."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._lock:
                pids = list(self._running)
            kill_groups(pids)
        if wait:
            for watcher in self._watchers:
                watcher.join()
        self._relay.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)


def _expire(pid: int, flag: threading.Event) -> None:
    flag.set()
    kill_groups([pid])


def _outcome(
    data: bytes, status: int, task: StageTask, timed_out: bool, start: float
) -> StageResult:
    duration = time.monotonic() - start
    if timed_out:
        return timeout_result(task, duration)
    if not data:
        return death_result(task, status, duration)
    result: StageResult = pickle.loads(data)
    return result

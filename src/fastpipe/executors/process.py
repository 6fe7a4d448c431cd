"""The `process` executor: every stage in a freshly started interpreter (portable, cold)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Self, TypeVar

from fastpipe.executors.processes import (
    OutputRelay,
    death_result,
    kill_groups,
    timeout_result,
)
from fastpipe.worker import StageResult, StageTask

T = TypeVar("T")


class ProcessExecutor:
    """Starts `python -m fastpipe.executors.child` per call; kills it on timeout or shutdown."""

    def __init__(self, on_output: Callable[[str], None], label: str = "") -> None:
        self._relay = OutputRelay(on_output)
        self._label = (label,) if label else ()  # on the command line: finds the process again
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._watchers: list[threading.Thread] = []

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
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
        proc.stdin.write(pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))
        proc.stdin.close()
        with self._lock:
            self._running[proc.pid] = proc
        task = args[0] if args and isinstance(args[0], StageTask) else None
        watcher = threading.Thread(
            target=self._watch, args=(proc, read_end, future, task), daemon=True
        )
        self._watchers.append(watcher)
        watcher.start()
        return future

    def _watch(
        self, proc: subprocess.Popen[bytes], read_end: int, future: Future[Any], task: Any
    ) -> None:
        start = time.monotonic()
        timed_out = threading.Event()
        timer = None
        if isinstance(task, StageTask) and task.timeout:
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
        except Exception as exc:  # never leave the future pending (a plain call that died)
            future.set_exception(exc)

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


def _outcome(data: bytes, status: int, task: Any, timed_out: bool, start: float) -> Any:
    duration = time.monotonic() - start
    if isinstance(task, StageTask):
        if timed_out:
            return timeout_result(task, duration)
        if not data:
            return death_result(task, status, duration)
    if not data:
        raise RuntimeError(f"worker process ended with status {status} and no result")
    result: StageResult = pickle.loads(data)
    return result

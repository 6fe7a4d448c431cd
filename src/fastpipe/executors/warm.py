"""The `warm` executor: stage processes forked from a server that imported the pipeline once.

Starting a stage costs a fork (milliseconds) instead of an interpreter start plus the
pipeline's imports (numpy alone is ~100 ms). Each stage still gets a process of its own: a
crash, a timeout or Ctrl-C ends that stage only, and no state leaks from one stage to the next.
"""

from __future__ import annotations

import contextlib
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any, Self, TypeVar

from fastpipe.errors import ExecutorError
from fastpipe.executors.processes import (
    OutputRelay,
    death_result,
    kill_groups,
    timeout_result,
)
from fastpipe.worker import StageResult, StageTask

T = TypeVar("T")


class _Request:
    def __init__(self, future: Future[Any], task: StageTask | None) -> None:
        self.future = future
        self.task = task
        self.pid: int | None = None
        self.start = time.monotonic()
        self.timer: threading.Timer | None = None
        self.timed_out = False


class WarmExecutor:
    """A concurrent.futures-shaped executor over one warm server process."""

    def __init__(
        self,
        root: str,
        modules: Sequence[str],
        on_output: Callable[[str], None],
        on_preload_failure: Callable[[str, str], None],
    ) -> None:
        self._relay = OutputRelay(on_output)
        ours, theirs = socket.socketpair()
        self._server = subprocess.Popen(
            [sys.executable, "-m", "fastpipe.executors.warm_server", str(theirs.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=self._relay.write_fd,
            stderr=self._relay.write_fd,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._control = Connection(ours.detach())
        self._send_lock = threading.Lock()
        self._requests: dict[int, _Request] = {}
        self._next_id = 0
        self._on_preload_failure = on_preload_failure
        # The server imports in the background: this returns at once, so a run can start it
        # before loading the pipeline itself, and messages queue up behind the imports.
        try:
            self._control.send(("init", root, list(modules)))
        except OSError:
            code = self._server.wait()
            raise ExecutorError(f"the warm worker server failed to start (exit {code})") from None
        self._reader = threading.Thread(target=self._read, name="fastpipe-warm", daemon=True)
        self._reader.start()

    def preload(self, modules: Sequence[str]) -> None:
        """Have the server import more modules before it forks the first stage."""
        with self._send_lock:
            self._control.send(("preload", list(modules)))

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        task = args[0] if args and isinstance(args[0], StageTask) else None
        payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            self._next_id += 1
            request = self._next_id
            self._requests[request] = _Request(future, task)
            self._control.send(("run", request, payload))
        return future

    def _read(self) -> None:
        while True:
            try:
                message = self._control.recv()
            except (EOFError, OSError):
                self._fail_all("the warm worker server stopped")
                return
            if message[0] == "ready":
                for module, error in message[1]:
                    self._on_preload_failure(module, error)
            elif message[0] == "started":
                self._started(message[1], message[2])
            elif message[0] == "done":
                self._done(message[1], message[2], message[3])

    def _started(self, request: int, pid: int) -> None:
        entry = self._requests[request]
        entry.pid = pid
        if entry.task is not None and entry.task.timeout:
            entry.timer = threading.Timer(entry.task.timeout, self._expire, (entry,))
            entry.timer.daemon = True
            entry.timer.start()

    @staticmethod
    def _expire(entry: _Request) -> None:
        entry.timed_out = True
        if entry.pid is not None:
            kill_groups([entry.pid])

    def _done(self, request: int, data: bytes, status: int) -> None:
        with self._send_lock:
            entry = self._requests.pop(request)
        if entry.timer is not None:
            entry.timer.cancel()
        duration = time.monotonic() - entry.start
        task = entry.task
        if task is not None and entry.timed_out:
            entry.future.set_result(timeout_result(task, duration))
        elif task is not None and not data:
            entry.future.set_result(death_result(task, status, duration))
        elif not data:
            entry.future.set_exception(RuntimeError(f"worker ended with status {status}"))
        else:
            result: StageResult = pickle.loads(data)
            entry.future.set_result(result)

    def _fail_all(self, why: str) -> None:
        with self._send_lock:
            pending = list(self._requests.values())
            self._requests.clear()
        for entry in pending:
            if not entry.future.done():
                entry.future.set_exception(RuntimeError(why))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._send_lock:
                pids = [r.pid for r in self._requests.values() if r.pid is not None]
            kill_groups(pids)
        elif wait:
            for entry in list(self._requests.values()):
                entry.future.exception()
        with self._send_lock, contextlib.suppress(OSError):
            self._control.send(("stop",))
        self._server.wait()
        self._control.close()
        self._reader.join(2.0)
        self._relay.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)

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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Self

from fastpipe.errors import ExecutorError
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


class _Request:
    def __init__(self, future: Future[StageResult], task: StageTask) -> None:
        self.future = future
        self.task = task
        self.pid: int | None = None
        self.start = time.monotonic()
        self.timer: threading.Timer | None = None
        self.timed_out = False


class WarmExecutor:
    """A StageExecutor over one warm server process.

    `modules` (the config's preloads and the pipeline module) are imported as soon as the
    server starts; `warm_up` adds the library modules the stages use once they are known;
    `reload` has the server forget the project's modules and import them again (watch mode,
    after project code changed), keeping the libraries it imported.
    """

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

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def warm_up(
        self, modules: Sequence[str], stages: Mapping[str, StageSpec] | None = None, /
    ) -> None:
        """Have the server import library modules (longest importable prefix, failures
        ignored: a stage imports what it uses anyway) before it forks the next stage."""
        if modules:
            with self._send_lock:
                self._control.send(("preload", [f"?{m}" for m in modules]))

    def reload(self, modules: Sequence[str], /) -> None:
        """Have the server forget the project's modules and import `modules` again (a failure
        to import is not reported: each stage then imports what it needs itself)."""
        with self._send_lock:
            self._control.send(("reload", list(modules)))

    def submit(self, task: StageTask, /) -> Future[StageResult]:
        future: Future[StageResult] = Future()
        future.set_running_or_notify_cancel()
        payload = pickle.dumps((run_stage, (task,), {}), protocol=pickle.HIGHEST_PROTOCOL)
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
            # A reload that fails to import is not reported: its caller (run --watch) loads
            # the same code and reports the error itself; stages import what is missing.
            elif message[0] == "started":
                self._started(message[1], message[2])
            elif message[0] == "done":
                self._done(message[1], message[2], message[3])

    def _started(self, request: int, pid: int) -> None:
        entry = self._requests[request]
        entry.pid = pid
        if entry.task.timeout:
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
        if entry.timed_out:
            entry.future.set_result(timeout_result(task, duration))
        elif not data:
            entry.future.set_result(death_result(task, status, duration))
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

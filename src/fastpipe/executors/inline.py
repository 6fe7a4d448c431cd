"""The `inline` executor: runs each call in this process, at submit time, one at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Self, TypeVar

from fastpipe.executors.processes import kill_groups
from fastpipe.worker import process_tree

T = TypeVar("T")


class InlineExecutor:
    """A concurrent.futures-shaped executor whose futures are done when submit returns."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        except BaseException:
            # Ctrl-C in the stage: it shares this process, but what it started must not outlive it.
            kill_groups(sorted(process_tree() - {os.getpid()}), grace=0.2)
            raise
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing runs in the background, so there is nothing to stop."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

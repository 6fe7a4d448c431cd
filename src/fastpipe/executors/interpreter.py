"""The `interpreter` executor: stages in a sub-interpreter of this process (Python 3.14+).

Sub-interpreters start fast and share no Python state, but they share this process: its
working directory and its file descriptors 1 and 2, which a stage takes over while it runs
(worker.py). So this executor differs from the contract of a process executor in exactly
these ways, all visible in its `capabilities`:

- one stage at a time (`concurrent` is False): two stages would change each other's working
  directory and capture each other's output;
- no isolation (`isolated` is False): a crash in a stage ends the run, and a stage's
  `timeout` is not enforced (nothing can stop a sub-interpreter from outside);
- numpy, torch and most other extension modules do not load in sub-interpreters yet, so it
  suits pure-Python stages.

Everything else holds: `submit(task)` returns a future of the StageResult, a stage's own
failure is a failed result, placement and CUDA_VISIBLE_DEVICES pinning are fastpipe's.
"""

from __future__ import annotations

import concurrent.futures
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Self

from fastpipe.errors import ExecutorError
from fastpipe.executors.base import Capabilities
from fastpipe.worker import StageResult, StageTask, run_stage

if TYPE_CHECKING:
    from fastpipe.stage import StageSpec

CAPABILITIES = Capabilities(isolated=False, concurrent=False)


def pool_class() -> Any:
    """concurrent.futures.InterpreterPoolExecutor, or None before Python 3.14."""
    return getattr(concurrent.futures, "InterpreterPoolExecutor", None)


def create(jobs: int) -> InterpreterExecutor:
    """An InterpreterExecutor, or an ExecutorError naming the Python it needs."""
    found = pool_class()
    if found is None:
        version = ".".join(str(v) for v in sys.version_info[:3])
        raise ExecutorError(
            f"the interpreter executor needs Python 3.14 or newer "
            f"(concurrent.futures.InterpreterPoolExecutor); this is Python {version}"
        )
    return InterpreterExecutor(found(max_workers=1))  # pragma: no cover - needs Python 3.14


class InterpreterExecutor:  # pragma: no cover - needs Python 3.14
    """One sub-interpreter running one stage at a time."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def submit(self, task: StageTask, /) -> Future[StageResult]:
        future: Future[StageResult] = self._pool.submit(run_stage, task)
        return future

    def warm_up(
        self, modules: Sequence[str], stages: Mapping[str, StageSpec] | None = None, /
    ) -> None:
        """A sub-interpreter imports what a stage uses when it runs."""

    def reload(self, modules: Sequence[str], /) -> None:
        """A stage imports its code in a fresh sub-interpreter."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait, cancel_futures=cancel_futures)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

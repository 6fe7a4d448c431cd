"""The `inline` executor: runs each stage in this process, at submit time, one at a time."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Self

from fastpipe.executors.base import Capabilities
from fastpipe.executors.processes import kill_groups
from fastpipe.worker import StageResult, StageTask, process_tree, run_stage

if TYPE_CHECKING:
    from fastpipe.stage import StageSpec

CAPABILITIES = Capabilities(isolated=False, concurrent=False)


class InlineExecutor:
    """An executor whose futures are done when submit returns.

    A stage shares this process (working directory, file descriptors), so only one runs at a
    time (`concurrent` is False) and nothing is isolated. `run` is what runs a task: the
    worker's `run_stage`, or a double in tests.
    """

    def __init__(self, run: Callable[[StageTask], StageResult] = run_stage) -> None:
        self._run = run

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def submit(self, task: StageTask, /) -> Future[StageResult]:
        future: Future[StageResult] = Future()
        try:
            future.set_result(self._run(task))
        except Exception as exc:
            future.set_exception(exc)
        except BaseException:
            # Ctrl-C in the stage: it shares this process, but what it started must not outlive it.
            kill_groups(sorted(process_tree() - {os.getpid()}), grace=0.2)
            raise
        return future

    def warm_up(
        self, modules: Sequence[str], stages: Mapping[str, StageSpec] | None = None, /
    ) -> None:
        """Stages import what they use in this process, when they run."""

    def reload(self, modules: Sequence[str], /) -> None:
        """Stages import in this process, where the pipeline was just imported again."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing runs in the background, so there is nothing to stop."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

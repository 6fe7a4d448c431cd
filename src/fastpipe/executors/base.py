"""The executor contract: what every executor promises, and what it says about itself.

An executor runs `StageTask`s somewhere and hands back futures of `StageResult`s:

- `submit(task)` starts the stage (or queues it) and returns at once with a future that always
  ends in a `StageResult`: a stage's own failure, its process dying, a timeout or a shutdown
  with `cancel_futures` are failed results, never exceptions. Only a broken executor (its
  server gone, say) fails a future with an exception; the scheduler turns that into a failed
  result naming the stage.
- `capabilities` says how it runs stages, so that callers read flags instead of comparing
  executor names (`Capabilities`).
- `warm_up(modules, stages)` is told, before a run submits anything, the library modules its
  stages use and the stages it will submit: the warm server imports the modules ahead, a Dask
  cluster given by address checks it can place the stages; the others do nothing.
- `reload(modules)` is told that project code changed (`run --watch`): the warm server
  forgets the project's modules and imports `modules` again; executors whose stages start a
  fresh interpreter do nothing.
- `shutdown(wait=True, *, cancel_futures=False)` and the context manager end it. The pool's
  lifetime is its caller's (`fastpipe run` opens it before loading the pipeline, `--watch`
  keeps it across cycles): nothing below the caller creates or shuts one down.

`concurrent.futures.Executor` is the model (submit, shutdown, context manager); the difference
is the payload: a task by name, not a callable, so no executor has to look inside its argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from fastpipe.stage import StageSpec
    from fastpipe.worker import StageResult, StageTask


@dataclass(frozen=True)
class Capabilities:
    """How an executor runs stages, read by the scheduler, the runner and the progress display.

    isolated: each stage owns a process (its working directory, environment, file descriptors
        1 and 2): a crash, a timeout or Ctrl-C ends that stage only, and its output arrives as
        relayed `[stage] line`s rather than on this process's terminal.
    concurrent: more than one stage may run at a time; without it the scheduler submits one.
    local_placement: fastpipe's own GPU/resource placement applies, and CUDA_VISIBLE_DEVICES
        is pinned per stage; without it the executor (a Dask cluster by address) places stages.
    remote: stages may run on another machine, sharing only the project's filesystem.
    """

    isolated: bool
    concurrent: bool
    local_placement: bool = True
    remote: bool = False


@runtime_checkable
class StageExecutor(Protocol):
    """Runs stage tasks somewhere and hands back futures of their results."""

    @property
    def capabilities(self) -> Capabilities: ...

    def submit(self, task: StageTask, /) -> Future[StageResult]: ...

    def warm_up(
        self, modules: Sequence[str], stages: Mapping[str, StageSpec] | None = None, /
    ) -> None: ...

    def reload(self, modules: Sequence[str], /) -> None: ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
        /,
    ) -> None: ...

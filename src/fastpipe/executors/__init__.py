"""Executors: where stages run. `create(settings)` maps an executor name to an instance.

It is the one construction path: `fastpipe run` (and --watch) build their pool here, before
the pipeline is loaded, and own its lifetime. What each executor can do is in its
`capabilities` (base.py); nothing outside this module compares executor names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastpipe.errors import ExecutorError
from fastpipe.executors.base import Capabilities, StageExecutor
from fastpipe.executors.inline import InlineExecutor

__all__ = ["DEFAULT", "NAMES", "Capabilities", "ExecutorSettings", "StageExecutor", "create"]

NAMES = ("warm", "process", "inline", "interpreter", "dask")
DEFAULT = "warm"


@dataclass(frozen=True)
class ExecutorSettings:
    """What an executor needs to know about the run it serves."""

    name: str
    jobs: int
    root: str
    preload: tuple[str, ...] = ()  # project modules the warm server imports up front
    on_output: Callable[[str], None] = print  # a line a stage process wrote (`[stage] ...`)
    on_warning: Callable[[str], None] = print
    dask_address: str | None = None  # an existing Dask scheduler; None: start a LocalCluster


def preload_failure(module: str, error: str) -> str:
    """The warning for a module the warm server could not import."""
    return (
        f"the warm workers could not preload '{module}' ({error}); each stage will import it itself"
    )


def create(settings: ExecutorSettings) -> StageExecutor:
    """A new executor as `settings` describe; ExecutorError for unknown or unavailable ones."""
    name = settings.name
    if name == "inline":
        return InlineExecutor()
    if name == "process":
        from fastpipe.executors.process import ProcessExecutor

        return ProcessExecutor(settings.on_output)
    if name == "warm":
        from fastpipe.executors.warm import WarmExecutor

        def preload_failed(module: str, error: str) -> None:
            settings.on_warning(preload_failure(module, error))

        return WarmExecutor(settings.root, settings.preload, settings.on_output, preload_failed)
    if name == "interpreter":
        from fastpipe.executors import interpreter

        return interpreter.create(settings.jobs)
    if name == "dask":
        from fastpipe.executors import dask

        return dask.create(settings)
    raise ExecutorError(f"unknown executor '{name}' (available: {', '.join(NAMES)})")

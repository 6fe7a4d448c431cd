"""Executors: where stages run. `create(settings)` maps an executor name to an instance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastpipe.errors import ExecutorError
from fastpipe.executors.base import Executor
from fastpipe.executors.inline import InlineExecutor

NAMES = ("warm", "process", "inline", "interpreter")
DEFAULT = "warm"


@dataclass(frozen=True)
class ExecutorSettings:
    """What an executor needs to know about the run it serves."""

    name: str
    jobs: int
    root: str
    preload: tuple[str, ...] = ()  # modules the warm server imports up front
    on_output: Callable[[str], None] = print  # a line a stage process wrote (`[stage] ...`)
    on_warning: Callable[[str], None] = print


def create(settings: ExecutorSettings) -> Executor:
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
            settings.on_warning(
                f"the warm workers could not preload '{module}' ({error}); "
                "each stage will import it itself"
            )

        return WarmExecutor(settings.root, settings.preload, settings.on_output, preload_failed)
    if name == "interpreter":
        from fastpipe.executors import interpreter

        return interpreter.create(settings.jobs)
    raise ExecutorError(f"unknown executor '{name}' (available: {', '.join(NAMES)})")

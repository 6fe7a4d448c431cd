"""Executors: where stages run. `create` maps an executor name to an instance."""

from __future__ import annotations

from fastpipe.errors import ExecutorError
from fastpipe.executors.base import Executor
from fastpipe.executors.inline import InlineExecutor

NAMES = ("inline",)


def create(name: str, jobs: int) -> Executor:
    """A new executor named `name` running up to `jobs` stages at once."""
    del jobs  # used by the parallel executors
    if name == "inline":
        return InlineExecutor()
    raise ExecutorError(f"unknown executor '{name}' (available: {', '.join(NAMES)})")

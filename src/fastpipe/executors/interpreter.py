"""The `interpreter` executor: stages in sub-interpreters of this process (Python 3.14+).

Sub-interpreters start fast and share no Python state, but they share file descriptors, so
stage output is captured at the `sys.stdout` level only; and numpy, torch and most other
extension modules do not load in sub-interpreters yet. Useful for pure-Python stages.
"""

from __future__ import annotations

import concurrent.futures
import sys
from typing import Any

from fastpipe.errors import ExecutorError


def create(jobs: int) -> Any:
    """An InterpreterPoolExecutor, or an ExecutorError naming the Python it needs."""
    pool_class = getattr(concurrent.futures, "InterpreterPoolExecutor", None)
    if pool_class is None:
        version = ".".join(str(v) for v in sys.version_info[:3])
        raise ExecutorError(
            f"the interpreter executor needs Python 3.14 or newer "
            f"(concurrent.futures.InterpreterPoolExecutor); this is Python {version}"
        )
    return pool_class(max_workers=jobs)  # pragma: no cover - needs Python 3.14

"""Files a stage opens while it runs, and which of them it did not declare.

In the stage's process an audit hook records every file opened under the project root (read
or written) while the stage function runs; it does nothing otherwise (audit hooks cannot be
removed: one is added per process, active only in the context `watch` sets, so the inline
executor, which runs stages in the coordinator, records only its stage). After the stage the
runner sorts the paths: deps, outputs, project source and params files are declared; any
other file read should be in `deps=`, any other file written in `outs=`.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_SOURCE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pth")
_PARAMS_FILES = frozenset({"params.yaml", "pyproject.toml"})
_SHOWN = 5  # paths named in one warning before "and N more"

_ACTIVE: contextvars.ContextVar[dict[str, bool] | None] = contextvars.ContextVar(
    "fastpipe_io_watch", default=None
)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open":
        return
    opened = _ACTIVE.get()
    if opened is None:
        return
    path, mode, flags = args
    if isinstance(path, int):
        return
    try:
        key = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if isinstance(mode, str):
        wrote = any(c in mode for c in "wax+")
    else:
        wrote = bool(flags & _WRITE_FLAGS) if isinstance(flags, int) else False
    opened[key] = opened.get(key, False) or wrote


@contextlib.contextmanager
def watch(root: str) -> Iterator[list[tuple[str, bool]]]:
    """Record the files opened inside this block; the list, filled on exit, holds
    `(root-relative POSIX path, written)` for those under `root`, sorted."""
    if not getattr(sys, "_fastpipe_io_hook", False):
        sys.addaudithook(_hook)
        sys._fastpipe_io_hook = True  # pyright: ignore[reportAttributeAccessIssue]
    opened: dict[str, bool] = {}
    found: list[tuple[str, bool]] = []
    token = _ACTIVE.set(opened)
    try:
        yield found
    finally:
        _ACTIVE.reset(token)
        prefix = os.path.join(os.path.abspath(root), "")
        found.extend(
            sorted(
                (path[len(prefix) :].replace(os.sep, "/"), wrote)
                for path, wrote in opened.items()
                if path.startswith(prefix)
            )
        )


@dataclass(frozen=True)
class Undeclared:
    """What a stage opened that its declaration does not cover."""

    read: tuple[str, ...]
    written: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.read or self.written)

    def messages(self, stage: str) -> list[str]:
        """One line per kind, naming the stage, the paths and the fix."""
        lines = []
        if self.read:
            lines.append(
                f"stage '{stage}' read {_paths(self.read)}, not among its deps: "
                "add it to deps= (a change to it would not make the stage stale)"
            )
        if self.written:
            lines.append(
                f"stage '{stage}' wrote {_paths(self.written)}, not among its outputs: "
                "add it to outs="
            )
        return lines


def undeclared(
    opened: Iterable[tuple[str, bool]],
    deps: Iterable[str],
    outputs: Iterable[str],
    sources: Iterable[str],
    ignore: Iterable[str] = (),
) -> Undeclared:
    """The opened paths not covered by deps (or inside a dep directory), outputs, project
    source (`sources` and any Python file), params files, fastpipe's own state, or the
    `ignore` globs (`[tool.fastpipe] io_ignore`)."""
    globs = tuple(ignore)
    dep_list, out_list = tuple(deps), tuple(outputs)
    known = frozenset(sources) | _PARAMS_FILES
    read: list[str] = []
    written: list[str] = []
    for path, wrote in opened:
        if (
            path in known
            or path.startswith((".fastpipe/", ".git/"))
            or path.endswith(_SOURCE_SUFFIXES)
            or "__pycache__/" in path
            or _within(path, out_list)
            or any(fnmatch.fnmatchcase(path, g) for g in globs)
        ):
            continue
        if wrote:
            written.append(path)
        elif not _within(path, dep_list):
            read.append(path)
    return Undeclared(tuple(read), tuple(written))


def _within(path: str, declared: tuple[str, ...]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def _paths(paths: tuple[str, ...]) -> str:
    shown = ", ".join(paths[:_SHOWN])
    more = len(paths) - _SHOWN
    return f"{shown} and {more} more" if more > 0 else shown

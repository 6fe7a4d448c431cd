"""A no-op `status` or `run` answered from a record of the files it last looked at.

When the snapshot fast path (fastpath.py) finds every stage fresh, with nothing to warn about,
it leaves a certificate in `.fastpipe/cache/fresh.json`: the `os.stat` signature (type, size,
mtime, ctime, inode, device) of every file and directory that answer was read from — fastpipe's
own modules, each `sys.path` entry, the snapshot, every source and directory listing the
snapshot checks, each stage's lock (and where an unfinished rerun would have moved it), every
dep and output (each entry below a directory too) and pyproject.toml — with the interpreter
facts and the exact text the commands printed. If every one of those signatures is unchanged,
the fast path would read exactly the same bytes and give the same answer, so the next
`status` or no-op `run` prints that answer without importing anything but the standard library.

The same trust rules as the stat cache: a certificate is only written when each recorded path
last changed more than two seconds before the command started (a file changed within the same
clock tick as our read could otherwise keep its mtime), and ctime is compared too (it cannot be
set back by tools that restore mtimes). Any mismatch, a missing or unreadable certificate, or
a differently shaped command line just means the normal path runs.

This module is imported by the entry point before anything else of fastpipe's: it may import
only the standard library.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastpipe.fastpath import View
    from fastpipe.staleness import StageStatus

SCHEMA = 1
NAME = "fresh.json"  # in .fastpipe/cache/
TRUST_AFTER_NS = 2_000_000_000  # as the stat cache: a younger change may hide in one mtime tick
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def answer(start: Path, command: str) -> dict[str, Any] | None:
    """The recorded answer for `command` ("status", "status_json" or "run") in the project at
    or above `start`, when every path it was read from is unchanged; else None."""
    found = _certificate_at(os.path.realpath(start))
    if found is None:
        return None
    root, cert = found
    if cert.get("schema") != SCHEMA or cert.get("interpreter") != _interpreter(root):
        return None
    for path, signature in cert["paths"]:
        if _signature(path) != signature:
            return None
    text = cert["outputs"].get(command)
    if not isinstance(text, str):
        return None
    return {"root": root, "text": text, "stages": list(cert["stages"])}


def remember(view: View, found: Sequence[StageStatus], started_ns: int) -> None:
    """Leave a certificate for the answer `found` (every stage, all fresh) that `view` gave."""
    from fastpipe.render import run_summary, status_table
    from fastpipe.results import Outcome, RunResult, StageRun

    snap = view.snapshot
    if list(snap.order) != [s.name for s in found] or any(s.stale for s in found):
        return
    if any(snap.stages[s.name].warnings for s in found):
        return  # what was printed on stderr is not recorded: take the normal path
    root = str(view.project.root)
    layout = view.project.layout
    try:
        paths = _recorded(view, root)
    except OSError:
        return
    newest = max((max(sig[2], sig[3]) for _, sig in paths if sig is not None), default=0)
    target = layout.cache / NAME
    if newest > started_ns - TRUST_AFTER_NS:
        target.unlink(missing_ok=True)
        return
    fresh = RunResult(tuple(StageRun(s.name, Outcome.FRESH) for s in found))
    cert = {
        "schema": SCHEMA,
        "root": root,
        "interpreter": _interpreter(root),
        "stages": [s.name for s in found],
        "outputs": {
            "status": status_table(found),
            "status_json": json.dumps({"stages": [s.to_json() for s in found]}),
            "run": run_summary(fresh),
        },
        "paths": paths,
    }
    from fastpipe.atomicfile import atomic_write

    try:
        atomic_write(target, json.dumps(cert).encode())
    except OSError:
        return


def certified_root(start: Path) -> str | None:
    """The root of the project at or above `start` when it holds a certificate (not yet
    checked: `answer` checks it)."""
    found = _certificate_at(os.path.realpath(start))
    return found[0] if found is not None else None


def forget(state_cache: Path) -> None:
    """Remove the certificate (a caller that changes what it certified without a stat change)."""
    (state_cache / NAME).unlink(missing_ok=True)


def _certificate_at(start: str) -> tuple[str, dict[str, Any]] | None:
    """The project root find_root would choose from `start`, and its certificate. Directories
    passed on the way up must hold neither pipeline.py nor pyproject.toml (deciding about a
    pyproject.toml would need a TOML parser: the normal path decides)."""
    directory = start
    while True:
        try:
            with open(os.path.join(directory, ".fastpipe", "cache", NAME), "rb") as f:
                cert = json.loads(f.read())
        except (OSError, ValueError):
            cert = None
        if isinstance(cert, dict) and cert.get("root") == directory:
            return directory, cert
        if any(
            os.path.exists(os.path.join(directory, n)) for n in ("pipeline.py", "pyproject.toml")
        ):
            return None
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _interpreter(root: str) -> list[Any]:
    path = [p for p in sys.path if p and os.path.abspath(p) != root]
    return [sys.version, sys.executable, path, _PACKAGE]


def _signature(path: str) -> list[int] | None:
    """What `os.stat` says changes when the content could have; None when absent."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _recorded(view: View, root: str) -> list[tuple[str, list[int] | None]]:
    """Every path the fast path's answer was read from, with its signature now."""
    layout = view.project.layout
    snap = view.snapshot
    paths: list[str] = [str(layout.snapshot), os.path.join(root, "pyproject.toml")]
    paths.append(os.path.join(root, "pipeline.py"))
    paths += _tree(_PACKAGE, code_only=True)  # fastpipe's code, as environment_key hashes it
    entries = (os.path.abspath(p or os.curdir) for p in sys.path)
    paths += [p for p in entries if p != root]  # as environment_key: their names
    paths += [_absolute(root, key) for key in snap.sources]
    paths += [_absolute(root, key.lstrip("*")) for key in snap.listings]
    for name in snap.order:
        paths += [str(layout.lock_path(name)), str(layout.unfinished_lock_path(name))]
        entry = snap.stages[name]
        for relpath in (*entry.deps, *entry.outputs):
            paths += _tree(_absolute(root, relpath))
    return [(p, _signature(p)) for p in dict.fromkeys(paths)]


def _absolute(root: str, key: str) -> str:
    return key if os.path.isabs(key) else os.path.join(root, key)


def _tree(top: str, *, code_only: bool = False) -> list[str]:
    """`top` and, when it is a directory, every entry below it (symlinks followed, as a tree
    is hashed; with `code_only`, directories and .py files outside __pycache__); raises
    OSError on a symlink loop."""
    found = [top]
    stack: list[tuple[str, frozenset[tuple[int, int]]]] = []
    try:
        st = os.stat(top)
    except (FileNotFoundError, NotADirectoryError):
        return found
    if os.path.isdir(top):
        stack.append((top, frozenset({(st.st_dev, st.st_ino)})))
    while stack:
        directory, ancestors = stack.pop()
        for entry in _entries(directory):
            is_dir = entry.is_dir()
            if code_only and (
                entry.name == "__pycache__" or not (is_dir or entry.name.endswith(".py"))
            ):
                continue
            found.append(entry.path)
            if is_dir:
                inner = entry.stat()
                ident = (inner.st_dev, inner.st_ino)
                if ident in ancestors:
                    raise OSError(f"symlink loop at {entry.path}")
                stack.append((entry.path, ancestors | {ident}))
    return found


def _entries(directory: str) -> Iterable[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        return sorted(it, key=lambda e: e.name)

"""One `fastpipe run` per project at a time: an exclusive advisory lock on a file in .fastpipe."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from fastpipe.errors import ProjectBusyError

BUSY_MESSAGE = "another fastpipe run is active in this project"


@contextlib.contextmanager
def hold(path: Path, *, wait: bool, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the project's run lock; wait for it (telling `on_wait`) or refuse when busy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise ProjectBusyError(BUSY_MESSAGE) from None
            holder = _read_pid(fd)
            on_wait(f"{BUSY_MESSAGE}{f' (pid {holder})' if holder else ''}; waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError):
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    return ""

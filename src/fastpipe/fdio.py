"""Whole reads and writes on file descriptors: the loops `os.read` and `os.write` need.

Copies between the cache, a remote and the workspace use raw descriptors, not Python's buffered
files (which add an fstat, an ioctl and an lseek to every open); a single `os.read` or
`os.write` may move fewer bytes than asked, so these finish the job.
"""

from __future__ import annotations

import os

_CHUNK = 1 << 20


def read_all(fd: int, size: int) -> bytes:
    """The whole file from the current offset: one read when it returns exactly the `size`
    bytes fstat gave, else read on to the end (a short read, or a file that changed since)."""
    data = os.read(fd, size)
    if len(data) == size and size > 0:
        return data
    parts = [data]
    while chunk := os.read(fd, _CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of `data`."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

"""Copying a file's bytes between the cache and the workspace: reflink, copy_file_range, copy.

`cache_link` (docs/guide.md, "Data and the cache") picks how a workspace file relates to its
cache object: an independent copy (the default, a reflink where the filesystem can share
blocks), or a hard link / symlink to the read-only object. The kernel primitives are held by a
`Primitives` value, so tests can make reflink succeed or fail on filesystems without it.
"""

from __future__ import annotations

import enum
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass

FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_CHUNK = 1 << 20
# Errors that mean "this primitive is not available here", not "the copy failed".
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}
_UNSUPPORTED.add(getattr(errno, "ENOTSUP", errno.EOPNOTSUPP))


class LinkMode(enum.StrEnum):
    """How a workspace file is made from its cache object."""

    COPY = "copy"  # an independent copy (copy_file_range, else read/write)
    REFLINK = "reflink"  # an independent copy sharing blocks (FICLONE), else a copy
    HARDLINK = "hardlink"  # the object itself, read-only; a copy across filesystems
    SYMLINK = "symlink"  # a symlink to the read-only object

    @property
    def shares_object(self) -> bool:
        """Whether the workspace file is the cache object itself (so it must stay read-only)."""
        return self in (LinkMode.HARDLINK, LinkMode.SYMLINK)


DEFAULT_LINK = LinkMode.REFLINK


def _ficlone(src_fd: int, dst_fd: int) -> None:
    import fcntl

    fcntl.ioctl(dst_fd, FICLONE, src_fd)


def _copy_file_range(src_fd: int, dst_fd: int, size: int) -> None:
    copied = 0
    while copied < size:
        n = os.copy_file_range(src_fd, dst_fd, size - copied)
        if n == 0:
            break
        copied += n


@dataclass(frozen=True)
class Primitives:
    """The kernel calls a copy may use (injectable: tests fake a filesystem with reflinks)."""

    reflink: Callable[[int, int], None] = _ficlone
    copy_range: Callable[[int, int, int], None] | None = (
        _copy_file_range if hasattr(os, "copy_file_range") else None
    )


SYSTEM = Primitives()


def copy_fd(src_fd: int, dst_fd: int, size: int, mode: LinkMode, prims: Primitives = SYSTEM) -> str:
    """Copy `size` bytes of `src_fd` to the empty `dst_fd`; returns the method that did it."""
    if mode is not LinkMode.COPY:
        try:
            prims.reflink(src_fd, dst_fd)
            return "reflink"
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
    if prims.copy_range is not None and size > 0:
        try:
            prims.copy_range(src_fd, dst_fd, size)
            return "copy_file_range"
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED or os.lseek(dst_fd, 0, os.SEEK_CUR) != 0:
                raise
    _plain_copy(src_fd, dst_fd)
    return "copy"


def _plain_copy(src_fd: int, dst_fd: int) -> None:
    os.lseek(src_fd, 0, os.SEEK_SET)
    while chunk := os.read(src_fd, _CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst_fd, view) :]


def hardlink(src: str, dst: str) -> bool:
    """Hard-link `src` at `dst`; False when they are on different filesystems (EXDEV)."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            return False
        raise
    return True

"""A plain local directory remote: the os calls a transfer makes on it, and no more.

fsspec's LocalFileSystem costs several times the copy itself per small object, and Python's
buffered `open` adds an fstat, an ioctl and an lseek per file; here every object is one open of
each side, one copy and one rename. One `Directory` value serves one command: it remembers the
folders it made and names temp files by a per-command token and a counter (no random bytes per
object). Downloads hash the bytes as they pass, so the caller verifies them without reading the
file again.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import stat
import uuid

import xxhash

from fastpipe import fdio

SMALL = 1 << 20  # objects up to this size are read whole, hashed in memory and written
_CHUNK = 1 << 20


class Directory:
    """One command's transfers to or from a local directory (safe to share between threads)."""

    def __init__(self) -> None:
        self._made: set[str] = set()
        self._tag = uuid.uuid4().hex
        self._count = itertools.count()

    def temp_tag(self) -> str:
        """A name part no other transfer uses (this command's token and a counter)."""
        return f"{self._tag}-{next(self._count)}"

    def ensure_folder(self, folder: str) -> None:
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)

    def upload(self, source: str, target: str) -> int | None:
        """Copy `source` to `target` through a temp file beside it and a rename: the size, or
        None when `source` is no regular file (nothing is written then)."""
        try:
            src = os.open(source, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            found = os.fstat(src)
            if not stat.S_ISREG(found.st_mode):
                return None
            folder, _, name = target.rpartition("/")
            self.ensure_folder(folder)
            temp = f"{folder}/.{name}.{self.temp_tag()}.tmp"
            try:
                size = _copy(src, found.st_size, temp)
                os.replace(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        finally:
            os.close(src)
        return size


def _copy(src: int, size: int, target: str) -> int:
    """Copy the open file `src` (of `size` bytes) to the new file `target` in the kernel
    (copy_file_range, as `cp`); the bytes copied."""
    dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        copied = _copy_range(src, dst, size)
        if copied < size:  # no copy_file_range here, or it stopped early
            os.lseek(src, copied, os.SEEK_SET)
            with open(src, "rb", closefd=False) as s, open(dst, "wb", closefd=False) as d:
                shutil.copyfileobj(s, d, _CHUNK)
            copied = os.fstat(dst).st_size
    finally:
        os.close(dst)
    return copied


def _copy_range(src: int, dst: int, size: int) -> int:
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None:  # pragma: no cover - not Linux
        return 0
    copied = 0
    try:
        while copied < size:
            step = copy_range(src, dst, min(size - copied, 1 << 30))
            if step == 0:
                break
            copied += step
    except OSError:
        if copied:  # part of it was written: finish the portable way from there
            return copied
        return 0
    return copied


def download(source: str, temp: str) -> tuple[int, str]:
    """Copy `source` into the new file `temp`, hashing the bytes as they pass: (size, xxh3).

    The digest is of the bytes written to `temp`, read once: a caller checks it against the
    object's name instead of reading the file again.
    """
    src = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(src).st_size
        dst = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            if size <= SMALL:
                data = fdio.read_all(src, size)
                fdio.write_all(dst, data)
                return len(data), xxhash.xxh3_128_hexdigest(data)
            return _stream(src, dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _stream(src: int, dst: int) -> tuple[int, str]:
    hasher = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    total = 0
    while n := os.readv(src, [buffer]):
        hasher.update(view[:n])
        fdio.write_all(dst, view[:n])
        total += n
    return total, hasher.hexdigest()


def find(top: str) -> list[str]:
    """Every file below the folder `top`, as `top/...` paths ([] if there is no such folder)."""
    found: list[str] = []
    for folder, _, files in os.walk(top):
        found += [f"{folder}/{name}" for name in files]
    return found

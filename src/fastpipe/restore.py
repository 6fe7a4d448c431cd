"""Cache objects back into the workspace: each file verified, each replacement atomic.

A file is written to a temp file beside its destination, re-hashed, and renamed over it, so a
crash leaves the old file or the new one, never a torn one, and a corrupt object never
reaches the workspace (CorruptObjectError: the caller removes it and warns). A workspace file
that differs and whose content the cache lacks is only replaced with `force`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from fastpipe import fdio, links, safepath
from fastpipe.hashing import StatCache, TreeFile, hash_file, hash_path
from fastpipe.links import LinkMode
from fastpipe.objects import CorruptObjectError, ObjectStore

_SMALL = 1 << 20  # files up to this size are read once into memory, hashed and written


@dataclass
class Placement:
    """What restoring did: files written and removed, and files kept (not in the cache)."""

    written: int = 0
    removed: int = 0
    kept: list[str] = field(default_factory=list[str])


@dataclass(frozen=True)
class Restorer:
    """Writes outs of the project at `root` from `store`."""

    store: ObjectStore
    root: Path
    cache: StatCache
    force: bool = True  # replace differing files even when the cache lacks their content
    # Objects this command verified and published itself (a pull's downloads): placed without
    # hashing them again. Every other object is verified as it is placed.
    trusted: frozenset[str] = frozenset()

    def out(self, relpath: str, digest: str, done: Placement | None = None) -> Placement:
        """Make the out at `relpath` the object `digest` (FileNotFoundError if it is absent)."""
        done = done if done is not None else Placement()
        dest = safepath.inside(self.root, relpath, f"out '{relpath}'")
        safepath.check_hash(digest, f"out '{relpath}'")
        current = _current(self.root, relpath, self.cache)
        if current == digest:
            return done  # already right: untouched
        files = self.store.tree(digest)
        if files is None:
            if not self.store.path(digest).is_file():
                raise FileNotFoundError(str(self.store.path(digest)))
            if not dest.parent.is_dir():  # a fresh clone has no ignored folders (data/, say)
                dest.parent.mkdir(parents=True, exist_ok=True)
                safepath.inside(self.root, relpath, f"out '{relpath}'")
            self._file(relpath, dest, digest, executable=False, done=done)
        else:
            self._tree(relpath, dest, files, done)
        return done

    def _tree(self, relpath: str, dest: Path, files: tuple[TreeFile, ...], done: Placement) -> None:
        if os.path.islink(dest) or (os.path.lexists(dest) and not dest.is_dir()):
            if not self._may_replace(relpath):
                done.kept.append(relpath)
                return
            dest.unlink()
        for f in files:  # every object first: a missing one leaves the workspace untouched
            if not os.path.isfile(self.store.location(f.hash)):
                raise FileNotFoundError(self.store.location(f.hash))
        checked: set[str] = set()
        base = str(dest)
        for f in files:
            target = f"{base}/{f.rel}"
            parent = os.path.dirname(target)
            if parent not in checked:
                os.makedirs(parent, exist_ok=True)
                safepath.inside(self.root, f"{relpath}/{f.rel}", f"out '{relpath}'")
                checked.add(parent)
            self._file(f"{relpath}/{f.rel}", target, f.hash, executable=f.executable, done=done)
        wanted = {f.rel for f in files}
        for rel, path in _files_below(dest):
            if rel not in wanted:
                if self._may_replace(f"{relpath}/{rel}"):
                    os.unlink(path)
                    done.removed += 1
                else:
                    done.kept.append(f"{relpath}/{rel}")

    def _file(
        self, key: str, dest: Path | str, digest: str, *, executable: bool, done: Placement
    ) -> None:
        if os.path.lexists(dest) and not os.path.islink(dest):
            if os.path.isdir(dest):
                if not self.force and any(True for _ in _files_below(Path(dest))):
                    done.kept.append(key)
                    return
                shutil.rmtree(dest)
            else:
                current = hash_path(self.root, key, self.cache)
                if current is not None and current.hash == digest:
                    return  # already right: untouched
                if not self._may_replace(key):
                    done.kept.append(key)
                    return
        place_file(self.store, digest, dest, executable, trusted=digest in self.trusted)
        done.written += 1

    def _may_replace(self, key: str) -> bool:
        """Whether the workspace file at `key` may be replaced: forced, or its content cached."""
        if self.force:
            return True
        try:
            current = hash_path(self.root, key, self.cache)
        except OSError:
            return False
        return current is None or self.store.has(current.hash)


def _current(root: Path, relpath: str, cache: StatCache) -> str | None:
    """The hash of what is at `relpath` now (None: missing or unreadable)."""
    try:
        found = hash_path(root, relpath, cache)
    except OSError:
        return None
    return found.hash if found else None


def place_file(
    store: ObjectStore, digest: str, dest: Path | str, executable: bool, *, trusted: bool = False
) -> None:
    """Replace `dest` atomically by the verified object `digest` (CorruptObjectError if bad).

    `trusted`: this command verified the object's bytes when it published it; not read again.
    """
    obj = store.location(digest)
    head, name = os.path.split(str(dest))
    tmp = f"{head}/.{name}.{os.getpid()}.{time.monotonic_ns()}.fastpipe-tmp"
    try:
        if store.link.shares_object:
            if not trusted and hash_file(Path(obj)) != digest:
                raise CorruptObjectError(digest, Path(obj))

            def copy() -> None:  # the fallback where a link cannot be made
                _copy(store, obj, tmp, digest, executable, trusted)

            _link(obj, tmp, store.link, copy)
        else:
            _copy(store, obj, tmp, digest, executable, trusted)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _link(obj: str, tmp: str, mode: LinkMode, fallback: Callable[[], None]) -> None:
    if mode is LinkMode.SYMLINK:
        os.symlink(os.path.realpath(obj), tmp)
    elif not links.hardlink(obj, tmp):
        fallback()  # another filesystem: a copy


def _copy(
    store: ObjectStore, obj: str, tmp: str, digest: str, executable: bool, trusted: bool
) -> None:
    """Copy the object to `tmp` and verify what was read, unless `trusted` (mode from the
    umask, as any file)."""
    mode = 0o777 if executable else 0o666
    source = os.open(obj, os.O_RDONLY)  # not Python's buffered open: no fstat, ioctl, lseek
    try:
        size = os.fstat(source).st_size
        if size <= _SMALL:  # one read, hashed in memory: no second pass over the copy
            data = fdio.read_all(source, size)
            if not trusted and xxhash.xxh3_128_hexdigest(data) != digest:
                raise CorruptObjectError(digest, Path(obj))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                fdio.write_all(fd, data)
            finally:
                os.close(fd)
            return
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            copy_mode = LinkMode.COPY if store.link is LinkMode.COPY else LinkMode.REFLINK
            links.copy_fd(source, fd, size, copy_mode, store.prims)
        finally:
            os.close(fd)
    finally:
        os.close(source)
    if not trusted and hash_file(Path(tmp)) != digest:
        raise CorruptObjectError(digest, Path(obj))


def _files_below(directory: Path) -> list[tuple[str, str]]:
    """(POSIX path inside `directory`, path) of every file or symlink below it (not followed)."""
    found: list[tuple[str, str]] = []
    stack = [(str(directory), "")]
    while stack:
        path, prefix = stack.pop()
        with os.scandir(path) as it:
            for entry in it:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                elif stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode) or entry.is_symlink():
                    found.append((rel, entry.path))
    return found

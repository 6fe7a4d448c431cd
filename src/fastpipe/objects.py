"""The content-addressed object cache: files by xxh3-128, directories as manifest objects.

`<cache>/files/xxh3/<2 hex>/<30 hex>`. A file object holds the file's bytes and is named by
their hash; a directory is a manifest object (JSON: schema and the sorted [path, hash, size,
executable] of each file) named by the directory's tree hash (hashing.tree_digest), so it can
be told from a file and checked without its files. Objects are read-only and published
atomically: written to a temp file in the same folder, fsynced, then hard-linked into place,
which fails rather than replace an object another process published first. A crash leaves at
most a temp file (`.tmp.*`), which gc removes.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fastpipe import fdio, links, safepath
from fastpipe.hashing import TreeFile, hash_file, tree_digest
from fastpipe.links import LinkMode, Primitives

MANIFEST_SCHEMA = 1
TEMP_PREFIX = ".tmp."
_MANIFEST_START = b'{"schema":'
_MAX_MANIFEST = 1 << 30


class ObjectKind(enum.StrEnum):
    FILE = "file"
    TREE = "tree"


class CorruptObjectError(Exception):
    """An object whose bytes do not match its name (internal: callers warn and move on)."""

    def __init__(self, digest: str, path: Path) -> None:
        super().__init__(f"cache object {digest} ({path}) is corrupt")
        self.digest = digest
        self.path = path


@dataclass(frozen=True)
class ObjectStore:
    """The objects below one cache directory."""

    root: Path  # the cache directory (files/ and runs/ below it)
    link: LinkMode = links.DEFAULT_LINK
    prims: Primitives = links.SYSTEM

    @property
    def files_dir(self) -> Path:
        return self.root / "files" / "xxh3"

    def path(self, digest: str) -> Path:
        """Where the object named `digest` lives (the hash checked first)."""
        return Path(self.location(digest))

    def location(self, digest: str) -> str:
        """`path` as a string (restoring 10,000 files: pathlib would cost a third of it)."""
        safepath.check_hash(digest, "cache object")
        return f"{self.root}/files/xxh3/{digest[:2]}/{digest[2:]}"

    def has(self, digest: str) -> bool:
        """Whether the object is present (a malformed name never is)."""
        return safepath.is_hash(digest) and os.path.isfile(self.location(digest))

    # ---- storing

    def store_file(self, src: Path, digest: str) -> bool:
        """Publish the file at `src`, whose hash is `digest`; False if it was already there."""
        target = self.path(digest)
        if target.exists():
            return False
        if self.link is LinkMode.HARDLINK and self._adopt(src, target):
            return True
        with open(src, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            return self._publish(
                target, lambda fd: links.copy_fd(source.fileno(), fd, size, self.link, self.prims)
            )

    def store_tree(self, base: Path, files: tuple[TreeFile, ...], digest: str) -> int:
        """Publish each file below `base` and then the manifest; the number of new objects."""
        added = sum(self.store_file(base / f.rel, f.hash) for f in files)
        return added + self.publish_bytes(digest, manifest_bytes(files))

    def publish_bytes(self, digest: str, data: bytes) -> bool:
        """Publish `data` as the object `digest`; False if it was already there."""
        target = self.path(digest)
        if target.exists():
            return False
        return self._publish(target, lambda fd: fdio.write_all(fd, data))

    def _adopt(self, src: Path, target: Path) -> bool:
        """Hard-link a workspace file into the cache, read-only (False across filesystems)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_name(target)
        if not links.hardlink(str(src), tmp):
            return False
        try:
            os.chmod(tmp, 0o444)
            return _link_into_place(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _publish(self, target: Path, write: Callable[[int], object]) -> bool:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_name(target)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                write(fd)
                os.fsync(fd)
                os.fchmod(fd, 0o444)
            finally:
                os.close(fd)
            return _link_into_place(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # ---- reading

    def kind(self, digest: str) -> ObjectKind:
        """FILE or TREE for a valid object; CorruptObjectError otherwise (FileNotFoundError)."""
        if self.tree(digest) is not None:
            return ObjectKind.TREE
        path = self.path(digest)
        if hash_file(path) != digest:
            raise CorruptObjectError(digest, path)
        return ObjectKind.FILE

    def tree(self, digest: str) -> tuple[TreeFile, ...] | None:
        """The files of a valid manifest object named `digest`; None if it is no manifest."""
        path = self.path(digest)
        with open(path, "rb") as f:
            if f.read(len(_MANIFEST_START)) != _MANIFEST_START:
                return None
            if os.fstat(f.fileno()).st_size > _MAX_MANIFEST:
                return None
            f.seek(0)
            data = f.read()
        files = parse_manifest(data, digest)
        return files

    def remove(self, digest: str) -> int:
        """Delete an object (a corrupt one, or garbage); the bytes freed."""
        path = self.path(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def all_objects(self) -> Iterator[tuple[str, Path]]:
        """(digest, path) of every object present, and ('', path) for every temp file."""
        if not self.files_dir.is_dir():
            return
        for shard in sorted(os.scandir(self.files_dir), key=lambda e: e.name):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
                digest = shard.name + entry.name
                if entry.name.startswith(TEMP_PREFIX):
                    yield "", Path(entry.path)
                elif safepath.is_hash(digest):
                    yield digest, Path(entry.path)


def manifest_bytes(files: tuple[TreeFile, ...]) -> bytes:
    """The manifest object of a directory's files (sorted by path)."""
    rows = [[f.rel, f.hash, f.size, f.executable] for f in sorted(files, key=lambda f: f.rel)]
    return json.dumps({"schema": MANIFEST_SCHEMA, "files": rows}, separators=(",", ":")).encode()


def parse_manifest(data: bytes, digest: str) -> tuple[TreeFile, ...] | None:
    """The files of a manifest whose tree hash is `digest`; None if `data` is no such manifest.

    A manifest that matches its name but holds an unsafe path is refused (UnsafeInputError):
    it was made by hand to escape the directory.
    """
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
        return None
    rows = doc.get("files")
    if not isinstance(rows, list):
        return None
    files: list[TreeFile] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4):
            return None
        rel, file_hash, size, executable = row
        if not (safepath.is_hash(file_hash) and isinstance(size, int) and isinstance(rel, str)):
            return None
        files.append(TreeFile(rel, file_hash, size, bool(executable)))
    if tree_digest((f.rel, f.hash) for f in files) != digest:
        return None
    for f in files:
        safepath.check_relpath(f.rel, f"cache manifest {digest}")
    return tuple(sorted(files, key=lambda f: f.rel))


def _temp_name(target: Path) -> str:
    return str(target.parent / f"{TEMP_PREFIX}{target.name}.{os.getpid()}.{time.monotonic_ns()}")


def _link_into_place(tmp: str, target: Path) -> bool:
    """Make `tmp` the object at `target` unless one is there already (never replaced)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links: rename, which is atomic too
        if target.exists():
            return False
        os.rename(tmp, target)
    return True


def is_read_only(path: Path) -> bool:
    return not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)

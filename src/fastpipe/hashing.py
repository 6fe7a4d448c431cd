"""Files and directory trees -> xxh3-128 content hashes, with a stat cache to skip re-reading."""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import xxhash

from fastpipe.atomicfile import atomic_write

CHUNK_SIZE = 1 << 20
CACHE_VERSION = 1
# A file modified in the same timestamp tick in which it was hashed can change again without
# its stat changing ("racy git"); 2 s covers the coarsest common mtime granularity (FAT).
RACY_WINDOW_NS = 2_000_000_000

# Cache file rows are "size mtime_ns ctime_ns inode hash hashed_at_ns": JSON parses one string
# per entry about three times faster than a list of six values.


@dataclass(frozen=True)
class FileHash:
    """The content hash of a file or directory tree, and its size in bytes."""

    hash: str
    size: int


@dataclass(frozen=True)
class StatEntry:
    """A cached file hash with the stat it was taken under and when it was taken."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    hash: str
    hashed_at_ns: int


class StatCache:
    """Path-keyed cache of file hashes, valid while (size, mtime_ns, ctime_ns, inode) match."""

    def __init__(self, path: Path | None, rows: dict[str, object]) -> None:
        self._path = path
        self._rows = rows
        self._new: dict[str, StatEntry] = {}
        self._dirty = False

    @classmethod
    def load(cls, path: Path) -> StatCache:
        """Read the cache at `path`; a missing, corrupt or other-version file gives an empty one."""
        return cls(path, _read_rows(path))

    @classmethod
    def empty(cls) -> StatCache:
        """An in-memory cache whose save() does nothing."""
        return cls(None, {})

    def get(self, key: str, st: os.stat_result) -> str | None:
        """The cached hash of `key` if its stat still matches and the entry is not racy."""
        e = _parse_row(self._rows.get(key))
        if e is None:
            return None
        if (e.size, e.mtime_ns, e.ctime_ns, e.inode) != (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        ):
            return None
        if e.hashed_at_ns - e.mtime_ns < RACY_WINDOW_NS:
            return None
        return e.hash

    def put(
        self, key: str, st: os.stat_result, hash: str, *, hashed_at_ns: int | None = None
    ) -> None:
        """Record `hash` for `key` as read under `st`; `hashed_at_ns` defaults to now."""
        when = time.time_ns() if hashed_at_ns is None else hashed_at_ns
        entry = StatEntry(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, hash, when)
        self.merge({key: entry})

    def new_entries(self) -> dict[str, StatEntry]:
        """Entries added or changed since load (what a worker sends back to its parent)."""
        return dict(self._new)

    def merge(self, entries: Mapping[str, StatEntry]) -> None:
        """Add entries computed elsewhere, e.g. by a worker process."""
        for key, e in entries.items():
            self._rows[key] = (
                f"{e.size} {e.mtime_ns} {e.ctime_ns} {e.inode} {e.hash} {e.hashed_at_ns}"
            )
            self._new[key] = e
            self._dirty = True

    def save(self) -> None:
        """Write the cache atomically if it changed; failing to write is not an error."""
        if self._path is None or not self._dirty:
            return
        data = {"version": CACHE_VERSION, "entries": self._rows}
        try:
            atomic_write(self._path, json.dumps(data, separators=(",", ":")).encode())
        except OSError:
            return  # the cache only saves time; a read-only checkout still runs correctly
        self._dirty = False


def _read_rows(path: Path) -> dict[str, object]:
    """The entries of a cache file, or {} for anything but a well-formed current one."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    rows = data.get("entries")
    return rows if isinstance(rows, dict) else {}


def _parse_row(row: object) -> StatEntry | None:
    """The entry a row encodes, or None if it is malformed."""
    # Rows are parsed when used rather than at load, which keeps loading 10k entries cheap.
    if not isinstance(row, str):
        return None
    fields = row.split(" ")
    if len(fields) != 6:
        return None
    try:
        size, mtime_ns, ctime_ns, inode, hashed_at_ns = map(int, fields[:4] + fields[5:])
    except ValueError:
        return None
    return StatEntry(size, mtime_ns, ctime_ns, inode, fields[4], hashed_at_ns)


def hash_file(path: Path) -> str:
    """The xxh3-128 hex digest of a file's content, read in 1 MiB chunks."""
    hasher = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def hash_path(root: Path, relpath: str, cache: StatCache) -> FileHash | None:
    """Hash the file or directory tree at POSIX `relpath` under `root`; None if it is missing.

    A directory hashes the sorted (path inside it, file hash) pairs of every file below it,
    following symlinks; empty directories and entries that are neither files nor directories
    (sockets, fifos, dangling symlinks) do not count. Raises OSError for an unreadable file
    or a symlink loop.
    """
    key = PurePosixPath(relpath).as_posix()
    path = root / key
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(st.st_mode):
        return _hash_tree(path, "" if key == "." else key + "/", st, cache)
    if stat.S_ISREG(st.st_mode):
        return FileHash(_cached_file_hash(path, key, st, cache), st.st_size)
    return None


def _cached_file_hash(path: Path, key: str, st: os.stat_result, cache: StatCache) -> str:
    """The hash of a file already stat'ed as `st`, from the cache or by reading it."""
    cached = cache.get(key, st)
    if cached is not None:
        return cached
    # The clock is read before the file, so a write during hashing counts as racy.
    started_ns = time.time_ns()
    digest = hash_file(path)
    cache.put(key, st, digest, hashed_at_ns=started_ns)
    return digest


@dataclass(frozen=True)
class TreeFile:
    """One file below a directory: its POSIX path inside it, hash, size and executable bit."""

    rel: str
    hash: str
    size: int
    executable: bool


def hash_tree_files(
    root: Path, relpath: str, cache: StatCache
) -> tuple[FileHash, tuple[TreeFile, ...]] | None:
    """Like hash_path for a directory, with the files it hashed (sorted); None if no directory."""
    key = PurePosixPath(relpath).as_posix()
    path = root / key
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    files: list[TreeFile] = []
    found = _hash_tree(path, "" if key == "." else key + "/", st, cache, files)
    return found, tuple(sorted(files, key=lambda f: f.rel))


def tree_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """The tree hash of (path inside the directory, file hash) pairs, as hash_path makes it."""
    hasher = xxhash.xxh3_128()
    for rel, digest in sorted(pairs):
        # NUL cannot occur in a path and digests have a fixed length: the encoding is unambiguous.
        hasher.update(f"{rel}\0{digest}\n".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _hash_tree(
    path: Path,
    key_prefix: str,
    st: os.stat_result,
    cache: StatCache,
    collect: list[TreeFile] | None = None,
) -> FileHash:
    """The tree hash and total size of the directory at `path` (its files into `collect`)."""
    pairs: list[tuple[str, str]] = []
    total = 0
    for rel, file_path, file_st in _walk_files(str(path), "", {(st.st_dev, st.st_ino)}):
        digest = _cached_file_hash(Path(file_path), key_prefix + rel, file_st, cache)
        pairs.append((rel, digest))
        total += file_st.st_size
        if collect is not None:
            executable = bool(file_st.st_mode & 0o111)
            collect.append(TreeFile(rel, digest, file_st.st_size, executable))
    return FileHash(tree_digest(pairs), total)


def _walk_files(
    directory: str, prefix: str, ancestors: set[tuple[int, int]]
) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield (relative posix path, path, stat) of every file below `directory`, recursively."""
    with os.scandir(directory) as it:
        entries = list(it)
    for entry in entries:
        rel = prefix + entry.name
        try:
            st = entry.stat()  # follows symlinks
        except (FileNotFoundError, NotADirectoryError):
            continue  # a dangling symlink, or a file removed while we walk
        if stat.S_ISREG(st.st_mode):
            yield rel, entry.path, st
        elif stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                raise OSError(errno.ELOOP, "symlink loop in directory tree", entry.path)
            yield from _walk_files(entry.path, rel + "/", ancestors | {ident})

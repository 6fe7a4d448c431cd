"""Move cache objects to and from a remote: only what the other side lacks, checked on arrival.

Objects are named by keys relative to the cache and to the remote's root (objectkeys.py). The
engine is generic over keys: the caller says where an object lives locally (`push`) and how a
downloaded one is checked and published (`fetch`; `objectkeys.publisher` is the default).

A remote is untrusted: keys it lists are validated before use, so nothing is written outside
the cache, and a downloaded object is published only once its bytes match its name. Uploads go
to a temp name on the remote and are renamed into place where the filesystem can (on an object
store a PUT is atomic); downloads go to a temp file inside the cache. A killed transfer leaves
no torn object on either side, and the next one completes it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from fastpipe import localremote
from fastpipe.errors import RemoteError
from fastpipe.objectkeys import CorruptObjectError, Publish, digest_of, is_key
from fastpipe.remoteindex import INDEX_SCHEMA as INDEX_SCHEMA  # re-exported
from fastpipe.remoteindex import RemoteIndex as RemoteIndex  # re-exported
from fastpipe.remotes import Remote

DEFAULT_JOBS = 8  # threads for a remote behind a network; a local directory uses one
PROGRESS_INTERVAL_S = 0.1  # the listener hears of progress at most this often (and at the end)
SMALL_SET = 64  # up to this many unknown objects, ask the remote about each; more: list prefixes

Listener = Callable[["TransferProgress"], None]


class Direction(Enum):
    UPLOAD = "upload"
    DOWNLOAD = "download"


@dataclass(frozen=True)
class Moved:
    """Objects and bytes moved in one direction."""

    objects: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class TransferResult:
    """What one push or fetch did, for the summary line and `--json`."""

    remote: str  # the URL as shown: password stripped
    uploaded: Moved = Moved()
    downloaded: Moved = Moved()
    present: int = 0  # objects the other side already had
    missing: tuple[str, ...] = ()  # keys asked for that the source side does not have
    rejected: tuple[str, ...] = ()  # downloaded keys whose bytes did not match their names
    ignored: tuple[str, ...] = ()  # names the remote listed that are not object keys

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "uploaded": {"objects": self.uploaded.objects, "bytes": self.uploaded.bytes},
            "downloaded": {"objects": self.downloaded.objects, "bytes": self.downloaded.bytes},
            "present": self.present,
            "missing": list(self.missing),
            "rejected": list(self.rejected),
        }


@dataclass(frozen=True)
class TransferProgress:
    """Progress of one direction: `done` of `total` objects, `bytes` so far."""

    direction: Direction
    done: int
    total: int
    bytes: int


# ---------------------------------------------------------------------------- push


def push(
    keys: Sequence[str],
    local_path_of: Callable[[str], str],
    remote: Remote,
    *,
    index: RemoteIndex,
    jobs: int | None = None,
    listener: Listener | None = None,
) -> TransferResult:
    """Upload the objects among `keys` that the remote lacks; keys missing locally are reported.

    `jobs`: objects moved at once (default: one for a local directory, DEFAULT_JOBS otherwise).
    """
    jobs = jobs_for(remote, jobs)
    wanted = [k for k in dict.fromkeys(keys) if k not in index]
    known = len(keys) - len(wanted)
    # Known before anything moves, so the progress counts only what can be uploaded (an
    # object that vanishes after this is found missing by the upload itself).
    missing = [k for k in wanted if _file_size(local_path_of(k)) is None]
    if missing:
        absent = set(missing)
        wanted = [k for k in wanted if k not in absent]
    directory = localremote.Directory()
    lock = threading.Lock()
    sizes: list[int] = []
    try:
        have = remote_has(remote, wanted, jobs=jobs)
        index.add(have)
        todo = [k for k in wanted if k not in have]
        tracker = _Tracker(Direction.UPLOAD, len(todo), listener)

        def upload(key: str) -> None:
            size = _upload(remote, directory, local_path_of(key), key)
            if size is None:
                with lock:
                    missing.append(key)
                return
            index.add([key])
            with lock:
                sizes.append(size)
            tracker.advance(size)

        _each(todo, upload, jobs, remote, "uploading")
    finally:
        index.save()
    return TransferResult(
        remote.shown_url,
        uploaded=Moved(len(sizes), sum(sizes)),
        present=known + len(have),
        missing=tuple(sorted(missing)),
    )


def jobs_for(remote: Remote, jobs: int | None) -> int:
    """Objects moved at once: as asked, else one for a local directory (8 threads on a 2-core
    machine spent more time handing the GIL over than copying), else DEFAULT_JOBS."""
    if jobs is not None:
        return max(1, jobs)
    return 1 if remote.is_local else DEFAULT_JOBS


def _file_size(path: str) -> int | None:
    """The size of the regular file at `path`; None if there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size if stat.S_ISREG(found.st_mode) else None


def _upload(remote: Remote, directory: localremote.Directory, source: str, key: str) -> int | None:
    """Copy the local object `source` to the remote: its size, None if there is no such file."""
    target = remote.path(key)
    if remote.is_local:  # os calls, without fsspec's per-call overhead (localremote.py)
        return directory.upload(source, target)
    remote.fs.put_file(source, target)  # one PUT (or multipart): atomic on the store
    return os.stat(source).st_size


def _exists(remote: Remote, key: str) -> bool:
    path = remote.path(key)
    return os.path.isfile(path) if remote.is_local else bool(remote.fs.exists(path))


def _download(remote: Remote, key: str, temp: str) -> tuple[int, str | None]:
    """Copy the object into `temp`: its size, and its xxh3 where it was hashed on the way."""
    if remote.is_local:
        return localremote.download(remote.path(key), temp)
    remote.fs.get_file(remote.path(key), temp)
    return os.stat(temp).st_size, None


def _find(remote: Remote, prefix: str) -> list[str]:
    """Every file below `prefix` on the remote, as fsspec paths."""
    top = remote.path(prefix)
    if remote.is_local:
        return localremote.find(top)
    return [str(p) for p in remote.fs.find(top)]


def remote_has(remote: Remote, keys: Sequence[str], *, jobs: int | None = None) -> set[str]:
    """Which of `keys` the remote has: one check each for a few, prefix listings for many."""
    jobs = jobs_for(remote, jobs)
    if len(keys) <= SMALL_SET:
        found: set[str] = set()
        lock = threading.Lock()

        def check(key: str) -> None:
            if _exists(remote, key):
                with lock:
                    found.add(key)

        _each(keys, check, jobs, remote, "checking what it has")
        return found
    prefixes = sorted({k.rpartition("/")[0] for k in keys})
    listed: set[str] = set()
    lock = threading.Lock()

    def scan(prefix: str) -> None:
        names, _ = list_keys(remote, prefix)
        with lock:
            listed.update(names)

    _each(prefixes, scan, jobs, remote, "listing what it has")
    return listed & set(keys)


def list_keys(remote: Remote, prefix: str) -> tuple[set[str], tuple[str, ...]]:
    """The valid object keys below `prefix` on the remote, and the names that are not keys.

    Our own temp files (a leading dot) are skipped silently; anything else that is not a key
    is returned apart, never used.
    """
    base = remote.path("")
    try:
        paths = _find(remote, prefix)
    except FileNotFoundError:
        return set(), ()
    keys: set[str] = set()
    bad: list[str] = []
    for path in paths:
        rel = str(path)[len(base) :] if str(path).startswith(base) else str(path)
        if is_key(rel):
            keys.add(rel)
        elif not rel.rpartition("/")[2].startswith("."):
            bad.append(rel)
    return keys, tuple(sorted(bad))


# ---------------------------------------------------------------------------- fetch


def fetch(
    keys: Sequence[str],
    publish: Publish,
    remote: Remote,
    *,
    temp_dir: Path,
    index: RemoteIndex | None = None,
    jobs: int | None = None,
    listener: Listener | None = None,
) -> TransferResult:
    """Download `keys` into temp files in `temp_dir`, then hand each to `publish`.

    A key the remote does not have is reported as missing; one whose bytes `publish` rejects
    (CorruptObjectError) is reported as rejected and its bytes deleted. Keys that are not object
    keys are refused before any request.
    """
    wanted = list(dict.fromkeys(keys))
    invalid = [k for k in wanted if not is_key(k)]
    if invalid:
        raise RemoteError(f"refusing to fetch '{invalid[0]}': not an object key")
    jobs = jobs_for(remote, jobs)
    temp_dir.mkdir(parents=True, exist_ok=True)
    clean_temp_files(temp_dir)
    token = f"{os.getpid()}.{uuid.uuid4().hex}"
    folder = str(temp_dir)
    counter = iter(range(len(wanted)))
    tracker = _Tracker(Direction.DOWNLOAD, len(wanted), listener)
    lock = threading.Lock()
    missing: list[str] = []
    rejected: list[str] = []
    sizes: list[int] = []

    def download(key: str) -> None:
        temp = f"{folder}/{digest_of(key)}.{token}-{next(counter)}.tmp"
        try:
            size, digest = _download(remote, key, temp)
            publish(key, temp, digest)
        except FileNotFoundError:
            with lock:
                missing.append(key)
            return
        except CorruptObjectError:
            with lock:
                rejected.append(key)
            return
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        with lock:
            sizes.append(size)
        if index is not None:
            index.add([key])
        tracker.advance(size)

    try:
        _each(wanted, download, jobs, remote, "downloading")
    finally:
        if index is not None:
            index.save()
    return TransferResult(
        remote.shown_url,
        downloaded=Moved(len(sizes), sum(sizes)),
        missing=tuple(sorted(missing)),
        rejected=tuple(sorted(rejected)),
    )


def clean_temp_files(temp_dir: Path) -> None:
    """Delete temp files of downloads whose process is gone (a killed fetch's leftovers)."""
    with contextlib.suppress(OSError), os.scandir(temp_dir) as entries:
        for entry in list(entries):
            parts = entry.name.split(".")
            ours = len(parts) == 4 and parts[3] == "tmp" and parts[1].isdigit()
            if ours and not _alive(int(parts[1])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# ---------------------------------------------------------------------------- concurrency


class _Tracker:
    """Counts finished objects and bytes and tells the listener (from any thread): at the
    start, at the end, and at most every PROGRESS_INTERVAL_S between (a line redrawn 10,000
    times for 10,000 small objects cost more than copying them)."""

    def __init__(self, direction: Direction, total: int, listener: Listener | None) -> None:
        self._direction = direction
        self._total = total
        self._listener = listener
        self._lock = threading.Lock()
        self._done = 0
        self._bytes = 0
        self._next_at = time.monotonic() + PROGRESS_INTERVAL_S
        if listener is not None:
            listener(TransferProgress(direction, 0, total, 0))

    def advance(self, size: int) -> None:
        with self._lock:
            self._done += 1
            self._bytes += size
            if self._listener is None:
                return
            now = time.monotonic()
            if self._done < self._total and now < self._next_at:
                return
            self._next_at = now + PROGRESS_INTERVAL_S
            self._listener(TransferProgress(self._direction, self._done, self._total, self._bytes))


def _each(
    items: Sequence[str], work: Callable[[str], None], jobs: int, remote: Remote, what: str
) -> None:
    """Run `work` on every item with at most `jobs` threads; the first failure stops the rest
    and becomes one RemoteError naming the remote (RemoteErrors pass through).

    Each thread takes the next item from a shared iterator (a future per object cost more
    than copying a small object); with one job, a plain loop in this thread.
    """
    if not items:
        return
    if jobs <= 1 or len(items) == 1:
        try:
            for item in items:
                work(item)
        except RemoteError:
            raise
        except Exception as exc:
            raise remote.error(what, exc) from None
        return
    pending = iter(items)
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            with lock:
                item = next(pending, None)
            if item is None:
                return
            try:
                work(item)
            except BaseException:
                stop.set()
                raise

    count = max(1, min(jobs, len(items)))
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures: list[Future[None]] = [pool.submit(worker) for _ in range(count)]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: start nothing more, let the running ones finish
            stop.set()
            raise
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            stop.set()
            exc = failed.exception()
            assert exc is not None
            if isinstance(exc, RemoteError):
                raise exc
            raise remote.error(what, exc) from None

"""Lock files written by a background thread, off the scheduler's critical path.

Locks are still written atomically and durably (atomicfile), which costs milliseconds of
I/O; a thread takes that wait, and writes every lock queued meanwhile with a single flush of
the filesystem. Successors never read an upstream stage's lock, only its outputs, so nothing
waits for a lock but the end of the run.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from fastpipe.lockfile import LockEntry, write_locks


@dataclass(frozen=True)
class _Job:
    path: Path
    entry: LockEntry
    then_remove: Path  # the lock the stage's rerun moved aside, obsolete once this is written


class LockWriter:
    """Writes queued locks in batches; `close` waits for them and returns the failures."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._failures: dict[str, str] = {}
        self._written: list[tuple[Path, bytes, LockEntry]] = []
        self._thread = threading.Thread(target=self._work, name="fastpipe-locks", daemon=True)
        self._thread.start()

    def write(self, path: Path, entry: LockEntry, then_remove: Path) -> None:
        self._jobs.put(_Job(path, entry, then_remove))

    def close(self) -> dict[str, str]:
        """Wait for every queued lock; stage name -> why its lock could not be written."""
        self._jobs.put(None)
        self._thread.join()
        return dict(self._failures)

    def written(self) -> list[tuple[Path, bytes, LockEntry]]:
        """(path, bytes, entry) of every lock written, once `close` has returned."""
        return list(self._written)

    def _work(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._jobs.get()]
            while not self._jobs.empty():
                batch.append(self._jobs.get())
            stopping = None in batch
            self._write([job for job in batch if job is not None])

    def _write(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        try:
            written = write_locks([(job.path, job.entry) for job in jobs])
        except (OSError, ValueError):
            for job in jobs:  # find which one failed, writing them one by one
                self._write_one(job)
            return
        for job, data in zip(jobs, written, strict=True):
            job.then_remove.unlink(missing_ok=True)
            self._written.append((job.path, data, job.entry))

    def _write_one(self, job: _Job) -> None:
        try:
            [data] = write_locks([(job.path, job.entry)])
            job.then_remove.unlink(missing_ok=True)
            self._written.append((job.path, data, job.entry))
        except (OSError, ValueError) as exc:
            self._failures[job.entry.stage] = str(exc)

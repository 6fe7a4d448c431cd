"""Lock files written by a background thread, off the scheduler's critical path.

Each lock is still written atomically and fsync'd (atomicfile), which costs milliseconds of
I/O; a thread takes that wait so the next stage need not. Successors never read an upstream
stage's lock, only its outputs, so nothing waits for a lock but the end of the run.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from fastpipe.lockfile import LockEntry, write_lock


@dataclass(frozen=True)
class _Job:
    path: Path
    entry: LockEntry
    then_remove: Path  # the lock the stage's rerun moved aside, obsolete once this is written


class LockWriter:
    """Writes queued locks in order; `close` waits for them and returns the failures."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._failures: dict[str, str] = {}
        self._thread = threading.Thread(target=self._work, name="fastpipe-locks", daemon=True)
        self._thread.start()

    def write(self, path: Path, entry: LockEntry, then_remove: Path) -> None:
        self._jobs.put(_Job(path, entry, then_remove))

    def close(self) -> dict[str, str]:
        """Wait for every queued lock; stage name -> why its lock could not be written."""
        self._jobs.put(None)
        self._thread.join()
        return dict(self._failures)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                write_lock(job.path, job.entry)
                job.then_remove.unlink(missing_ok=True)
            except (OSError, ValueError) as exc:
                self._failures[job.entry.stage] = str(exc)

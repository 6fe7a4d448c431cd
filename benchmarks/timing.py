"""Time one command: wall and CPU seconds, and peak memory of the process and its tree.

Wall time is `time.perf_counter` around spawn + `os.wait4`. Peak RSS comes from two places:
- the tree: `os.wait4`'s ru_maxrss, which on Linux is the largest peak of the process and of
  every descendant it waited for (the warm server, the stage processes);
- the main process alone (when asked): its `VmHWM` read from /proc every few milliseconds
  while it runs; the high-water mark only grows, so the last read is its peak to within the
  final few ms, in which a process exits rather than grows.
The kernel batches RSS counters per thread, so the two can differ by a few hundred KiB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.002


class CommandFailedError(RuntimeError):
    """A benchmarked command exited non-zero; the message carries its output's tail."""


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu_seconds: float  # user + system time of the process and its waited-for descendants
    load: float  # the 1-minute load average when it started: > CPUs means others competed
    tree_rss_kib: int  # peak RSS over the process and its waited-for descendants
    main_rss_kib: int | None  # peak RSS of the process itself (when polled)


@dataclass(frozen=True)
class Stats:
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def as_dict(self) -> dict[str, object]:
        return {
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "samples": list(self.samples),
        }


class _HighWater(threading.Thread):
    """Polls /proc/PID/status for VmHWM until stopped; `kib` is the last value read."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/status"
        self.kib: int | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self._read()
            self.stopped.wait(POLL_S)

    def _read(self) -> None:
        try:
            with open(self.path, encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.kib = int(line.split()[1])
                        return
        except (OSError, ValueError):
            return


def run(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    *,
    poll_rss: bool = False,
    check: bool = True,
) -> Timed:
    """Run `command` in `cwd` with stdout+stderr to `log`; CommandFailedError if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        watcher = _HighWater(proc.pid) if poll_rss else None
        if watcher is not None:
            watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if watcher is not None:
        watcher.stopped.set()
        watcher.join()
    if check and proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise CommandFailedError(
            f"`{' '.join(command)}` exited {proc.returncode} in {cwd} (log: {log}):\n{tail}"
        )
    cpu = usage.ru_utime + usage.ru_stime
    return Timed(seconds, cpu, load, usage.ru_maxrss, watcher.kib if watcher is not None else None)

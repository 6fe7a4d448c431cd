"""What past runs measured (durations, peak GPU memory), kept in .fastpipe/cache/runs.json.

Local and gitignored: it only orders work (longest remaining path first), never decides
freshness.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastpipe.atomicfile import atomic_write

VERSION = 1


@dataclass(frozen=True)
class StageRecord:
    duration: float
    peak_gpu_memory: int | None = None


def load(path: Path) -> dict[str, StageRecord]:
    """The records at `path`; anything unreadable counts as no record."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("version") != VERSION:
            return {}
        return {
            name: StageRecord(float(r["duration"]), r.get("peak_gpu_memory"))
            for name, r in data["stages"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save(path: Path, records: Mapping[str, StageRecord]) -> None:
    """Write `records` (failing to write only loses ordering hints)."""
    stages = {
        name: {"duration": round(r.duration, 6), "peak_gpu_memory": r.peak_gpu_memory}
        for name, r in sorted(records.items())
    }
    with contextlib.suppress(OSError):
        atomic_write(path, json.dumps({"version": VERSION, "stages": stages}).encode())


def longest_remaining(
    order: Sequence[str],
    successors: Mapping[str, Sequence[str]],
    durations: Mapping[str, float],
) -> dict[str, float]:
    """For each stage, the longest sum of known durations from it to the end of the graph."""
    remaining: dict[str, float] = {}
    for name in reversed(order):
        below = max((remaining[s] for s in successors.get(name, ()) if s in remaining), default=0)
        remaining[name] = durations.get(name, 0.0) + below
    return remaining

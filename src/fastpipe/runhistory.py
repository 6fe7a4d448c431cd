"""The run history: one JSON file per `fastpipe run` in .fastpipe/runs/, the last 100 kept.

Local and gitignored, like the rest of .fastpipe/ but the locks. A record says what the run
was asked (command, jobs, executor), when it ran, the graph edges among its stages, and per
stage: outcome, why it ran, when it started and ended (seconds from the run's start), which
worker slot ran it, its peak RSS, its GPUs and peak GPU memory. Outcomes are kept as their
string values, so a record written with an outcome this version does not know still reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastpipe.atomicfile import atomic_write
from fastpipe.errors import RunNotFoundError

# A no-op run answered from the fresh certificate records itself through this module: it
# imports only what writing a record needs (no staleness, secrets or shlex).
if TYPE_CHECKING:
    from fastpipe.staleness import Reason

SCHEMA = 1
KEEP = 100  # records kept; older ones are deleted when a run is recorded
RUNS_DIR = "runs"  # under .fastpipe/


@dataclass(frozen=True)
class StageEntry:
    """One selected stage of a run."""

    name: str
    outcome: str  # an Outcome value: ran, fresh, failed, not_run, restored, ...
    reasons: tuple[str, ...] = ()  # reason kinds
    why: str = ""  # the reasons as one line of text
    start: float | None = None  # seconds after the run started; None if it did not run
    end: float | None = None
    duration: float | None = None  # the stage's own measured time
    slot: int | None = None  # the worker slot, 0..jobs-1
    peak_rss: int | None = None  # bytes, the stage process and its children
    gpus: str | None = None  # its CUDA_VISIBLE_DEVICES
    peak_gpu_memory: int | None = None  # bytes
    error: str | None = None  # the last line of a failed stage's error (what went wrong)


@dataclass(frozen=True)
class RunRecord:
    """One `fastpipe run`."""

    run_id: str
    command: str
    started: float  # time.time()
    ended: float
    jobs: int
    executor: str
    stages: tuple[StageEntry, ...]
    edges: tuple[tuple[str, str], ...] = ()  # (upstream, downstream) among the stages
    schema: int = field(default=SCHEMA)

    @property
    def wall(self) -> float:
        return max(0.0, self.ended - self.started)

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.stages if s.outcome == outcome)


def new_run_id(started: float) -> str:
    """`20261206-213501-3f2a`: the UTC start time (sortable), then 4 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(started)) + "-" + os.urandom(2).hex()


def command_line(argv: Sequence[str] | None = None) -> str:
    """How this process was started, as the user would type it."""
    import shlex

    args = list(sys.argv if argv is None else argv)
    if args and Path(args[0]).name in ("fastpipe", "__main__.py"):
        return shlex.join(["fastpipe", *args[1:]])
    return shlex.join(args) or "fastpipe.run()"


def why(reasons: Iterable[Reason]) -> str:
    """`code: helpers.fit changed; params: lr 0.1 -> 0.2` (as `status` words it)."""
    from fastpipe.staleness import ReasonKind

    plain = (ReasonKind.NEVER_RUN, ReasonKind.UPSTREAM)
    return "; ".join(
        r.detail if r.kind in plain else f"{r.kind.value}: {r.detail}" for r in reasons
    )


def runs_dir(state: Path) -> Path:
    return state / RUNS_DIR


def save(state: Path, record: RunRecord, *, keep: int = KEEP) -> Path:
    """Write `record` under `state`/runs/ atomically and delete all but the newest `keep`."""
    directory = runs_dir(state)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.run_id}.json"
    atomic_write(path, (json.dumps(to_dict(record), indent=1) + "\n").encode())
    for old in sorted(directory.glob("*.json"))[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()
    return path


def to_dict(record: RunRecord) -> dict[str, Any]:
    data = asdict(record)
    data["edges"] = [list(e) for e in record.edges]
    return data


def from_dict(data: Mapping[str, Any]) -> RunRecord:
    """A record from its JSON; ValueError if it is not one this version can read."""
    if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
        raise ValueError("not a fastpipe run record of schema 1")
    try:
        stages = tuple(
            StageEntry(**{**s, "reasons": tuple(s.get("reasons", ()))}) for s in data["stages"]
        )
        return RunRecord(
            run_id=str(data["run_id"]),
            command=str(data["command"]),
            started=float(data["started"]),
            ended=float(data["ended"]),
            jobs=int(data["jobs"]),
            executor=str(data["executor"]),
            stages=stages,
            edges=tuple((str(a), str(b)) for a, b in data.get("edges", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed run record: {exc}") from exc


def _read(path: Path) -> RunRecord | None:
    try:
        return from_dict(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return None


def history(state: Path, limit: int | None = None) -> list[RunRecord]:
    """The recorded runs, newest first (unreadable records are skipped)."""
    found = [r for p in runs_dir(state).glob("*.json") if (r := _read(p)) is not None]
    found.sort(key=lambda r: (r.started, r.run_id), reverse=True)
    return found if limit is None else found[:limit]


def load(state: Path, run_id: str | None = None) -> RunRecord:
    """The run `run_id` (default: the latest); RunNotFoundError if there is none."""
    if run_id is None:
        runs = history(state, 1)
        if not runs:
            raise RunNotFoundError("no run recorded yet in .fastpipe/runs/; run `fastpipe run`")
        return runs[0]
    path = runs_dir(state) / f"{run_id}.json"
    record = _read(path) if "/" not in run_id and run_id else None
    if record is None:
        raise RunNotFoundError(
            f"no run '{run_id}' in .fastpipe/runs/ (`fastpipe history` lists the runs)"
        )
    return record


def record_fresh(state: Path, names: Sequence[str], started: float) -> str | None:
    """Record a run that found every stage fresh (nothing started); its id, or None."""
    record = RunRecord(
        run_id=new_run_id(started),
        command=command_line(),
        started=started,
        ended=time.time(),
        jobs=1,
        executor="none",
        stages=tuple(StageEntry(name, "fresh") for name in names),
    )
    try:
        save(state, record)
    except OSError:
        return None
    return record.run_id

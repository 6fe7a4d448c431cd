"""What a run did, stage by stage: values shared by the runner, the fast path and the CLI."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fastpipe.staleness import Reason


class Outcome(enum.StrEnum):
    """How each selected stage ended up in a run."""

    RAN = "ran"
    FRESH = "fresh"
    RESTORED = "restored"  # outs came back from the cache; no user code ran
    FAILED = "failed"
    NOT_RUN = "not_run"  # an upstream stage failed, or the run stopped before it
    WOULD_RUN = "would_run"  # --dry-run: stale, would run


_OK = (Outcome.RAN, Outcome.FRESH, Outcome.RESTORED, Outcome.WOULD_RUN)


@dataclass(frozen=True)
class StageRun:
    """What happened to one selected stage in a run."""

    name: str
    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    duration: float | None = None
    error: str | None = None
    detail: str | None = None  # how a restored stage was restored ("from run cache")


@dataclass(frozen=True)
class RunResult:
    """Every selected stage's outcome, in topological order."""

    stages: tuple[StageRun, ...]
    run_id: str | None = None  # its record in the run history (.fastpipe/runs/), if written

    @property
    def ok(self) -> bool:
        return all(s.outcome in _OK for s in self.stages)

    def names(self, outcome: Outcome) -> list[str]:
        return [s.name for s in self.stages if s.outcome is outcome]

"""What a command reports while it works: plain values handed to a listener callback.

The CLI renders them (plain lines, a live display, or JSON lines); API callers may pass their
own listener or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastpipe.staleness import Reason


@dataclass(frozen=True)
class WarningIssued:
    """Something the user should know that does not stop the command."""

    message: str


@dataclass(frozen=True)
class Waiting:
    """The command is blocked on something outside it (another run's project lock)."""

    message: str


@dataclass(frozen=True)
class RunStarted:
    """A run begins: the stages selected, in order, and where they will run."""

    stages: tuple[str, ...]
    executor: str
    jobs: int
    isolated: bool = True  # each stage in its own process: its output arrives as events


@dataclass(frozen=True)
class StageStarted:
    name: str
    reasons: tuple[Reason, ...]
    forced: bool = False


@dataclass(frozen=True)
class StageSkipped:
    """The stage was found fresh when it came up for dispatch."""

    name: str


@dataclass(frozen=True)
class StageRestored:
    """A stale stage's outs came back from the cache instead of running it."""

    name: str
    detail: str


@dataclass(frozen=True)
class StageFinished:
    name: str
    ok: bool
    duration: float
    error: str | None = None


@dataclass(frozen=True)
class StageOutput:
    """A line a stage wrote to stdout or stderr (stage None: its process, outside the stage)."""

    stage: str | None
    line: str


@dataclass(frozen=True)
class StageRetrying:
    """A stage failed and runs again (`@stage(retries=N)`)."""

    name: str
    attempt: int  # the attempt about to start, from 2
    attempts: int  # 1 + retries
    error: str | None


@dataclass(frozen=True)
class StagesBlocked:
    """Stages that could not run because an upstream stage failed or the run stopped."""

    names: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class FastPathOff:
    """The no-op fast path could not be used: one cause per line (shown with --verbose)."""

    causes: tuple[str, ...]  # e.g. "helpers.py changed", "os.environ read at helpers.py:12"


Event = (
    WarningIssued
    | FastPathOff
    | Waiting
    | RunStarted
    | StageStarted
    | StageSkipped
    | StageFinished
    | StageRestored
    | StageOutput
    | StageRetrying
    | StagesBlocked
)
Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The listener used when the caller gives none."""

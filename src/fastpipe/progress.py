"""How `fastpipe run` shows its progress: a live display, plain lines, or JSON lines.

Each is a listener over `events`; the CLI picks one (live on a terminal, plain elsewhere or
with --quiet, JSON lines with --json).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import threading
import time
from typing import IO, Any

from fastpipe.events import (
    Event,
    RunStarted,
    StageFinished,
    StageOutput,
    StageRestored,
    StageRetrying,
    StagesBlocked,
    StageSkipped,
    StageStarted,
    Waiting,
    WarningIssued,
)
from fastpipe.render import event_line


class PlainProgress:
    """One line per event on stderr (stage output as `[stage] line`)."""

    def __init__(self, *, verbose: bool = False, stream: IO[str] | None = None) -> None:
        self._verbose = verbose
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = event_line(event, verbose=self._verbose)
        if line is not None:
            with self._lock:
                print(line, file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to tear down."""


class JsonLinesProgress:
    """Every event as one JSON object per line on stdout, for tools."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        data = {**event_json(event), "time": time.time()}  # when it was reported (epoch s)
        with self._lock:
            print(json.dumps(data), file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to tear down."""


def event_json(event: Event) -> dict[str, Any]:
    """`{"event": "stage_started", ...fields}` with enums and reasons as plain values."""
    name = "".join(f"_{c.lower()}" if c.isupper() else c for c in type(event).__name__)
    data: dict[str, Any] = {"event": name.lstrip("_")}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name == "reasons":
            value = [r.to_json() for r in value]
        elif isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)  # pyright: ignore[reportUnknownArgumentType]
        data[field.name] = value
    return data


class LiveProgress:
    """A live display on a terminal: counts, and each running stage with its elapsed time.

    Output of stages, warnings and failures scroll above it as they happen.
    """

    def __init__(self, *, verbose: bool = False) -> None:
        from rich.console import Console
        from rich.live import Live

        self._verbose = verbose
        self._console = Console(stderr=True)
        self._lock = threading.Lock()
        self._total = 0
        self._counts = {"done": 0, "fresh": 0, "restored": 0, "failed": 0, "not run": 0}
        self._running: dict[str, float] = {}
        self._live = Live(
            get_renderable=self._render,
            console=self._console,
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._update(event)
        line = event_line(event, verbose=self._verbose)
        if line is not None and self._shown(event):
            self._live.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _shown(self, event: Event) -> bool:
        """The display already shows starts and successes; failures and output scroll."""
        if isinstance(event, StageStarted | StageSkipped):
            return self._verbose
        if isinstance(event, StageFinished):
            return self._verbose or not event.ok
        return True

    def _update(self, event: Event) -> None:
        match event:
            case RunStarted(stages=stages):
                self._total = len(stages)
            case StageStarted(name=name):
                self._running[name] = time.monotonic()
            case StageRetrying(name=name):
                self._running[name] = time.monotonic()
            case StageSkipped():
                self._counts["fresh"] += 1
            case StageRestored():
                self._counts["restored"] += 1
            case StageFinished(name=name, ok=ok):
                self._running.pop(name, None)
                self._counts["done" if ok else "failed"] += 1
            case StagesBlocked(names=names):
                self._counts["not run"] += len(names)
            case StageOutput() | Waiting() | WarningIssued():
                pass

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            finished = sum(self._counts.values())
            counts = ", ".join(f"{v} {k}" for k, v in self._counts.items() if v)
            running = sorted(self._running.items(), key=lambda item: item[1])
        table = Table.grid(padding=(0, 2))
        table.add_row(Text(f"{finished}/{self._total}", style="bold"), counts or "starting")
        now = time.monotonic()
        for name, since in running[:12]:
            table.add_row(Text(f"  {name}", style="cyan"), f"{now - since:5.1f}s")
        if len(running) > 12:
            table.add_row(f"  … and {len(running) - 12} more running", "")
        return table

    def close(self) -> None:
        self._live.stop()


class AutoProgress:
    """Plain lines until the run starts; then a live display if stderr is a terminal.

    An executor without isolation (inline) runs stages in this process, writing straight to
    the terminal, which would tear a live display: with it, lines stay plain.
    """

    def __init__(self, *, verbose: bool = False) -> None:
        self._verbose = verbose
        self._inner: PlainProgress | LiveProgress = PlainProgress(verbose=verbose)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted) and event.isolated and sys.stderr.isatty():
            self._inner = LiveProgress(verbose=self._verbose)
        self._inner(event)

    def close(self) -> None:
        self._inner.close()


Progress = PlainProgress | JsonLinesProgress | LiveProgress | AutoProgress


def make_progress(mode: str, *, verbose: bool = False) -> Progress:
    """`json`: JSON lines on stdout; `plain`: lines on stderr; `auto`: live on a terminal."""
    if mode == "json":
        return JsonLinesProgress()
    if mode == "plain":
        return PlainProgress(verbose=verbose)
    return AutoProgress(verbose=verbose)

"""Text for humans: status tables, explanations, run summaries, and progress lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastpipe.events import (
    Event,
    RunStarted,
    StageFinished,
    StageOutput,
    StageRetrying,
    StagesBlocked,
    StageSkipped,
    StageStarted,
    Waiting,
    WarningIssued,
)
from fastpipe.results import Outcome, RunResult
from fastpipe.stage import StageSpec
from fastpipe.staleness import Reason, ReasonKind, StageStatus


def reasons_line(reasons: Iterable[Reason]) -> str:
    """`code: helpers.load changed; params: lr 0.1 -> 0.2`."""
    return "; ".join(
        r.detail if r.kind is ReasonKind.UPSTREAM else f"{r.kind.value}: {r.detail}"
        for r in reasons
    )


def status_table(statuses: Sequence[StageStatus]) -> str:
    """One line per stage: name, fresh/stale, reasons."""
    if not statuses:
        return "no stages"
    width = max(len(s.name) for s in statuses)
    lines = []
    for s in statuses:
        line = f"{s.name:<{width}}  {s.status.value}"
        if s.stale:
            line += f"  {reasons_line(s.reasons)}"
        lines.append(line)
    return "\n".join(lines)


def explanation(status: StageStatus) -> str:
    """Every changed item of a stage, one per line, grouped by kind."""
    if not status.stale:
        return f"{status.name} is fresh: code, params, deps and outputs match its lock" + (
            _accepted_line(status.accepted) if status.accepted else ""
        )
    lines = [f"{status.name} is stale"]
    for reason in status.reasons:
        lines.append(f"  {reason.kind.value}:")
        lines.extend(f"    {line}" for line in _reason_lines(reason))
    return "\n".join(lines) + (_accepted_line(status.accepted) if status.accepted else "")


def _accepted_line(accepted: Any) -> str:
    """How `explain` says that the lock was accepted rather than run."""
    previous = ", ".join(sorted(accepted.get("previous", {}))) or "nothing"
    return (
        f"\n  accepted without running at {accepted.get('at')}: {accepted.get('because')}"
        f" (changed then: {previous})"
    )


def accepted(done: Any) -> str:
    """The lines of `fastpipe accept`: each stage, and what its lock now takes as true."""
    lines = []
    for item in done:
        if item.reasons:
            what = "; ".join(f"{r.kind.value}: {r.detail}" for r in item.reasons)
            lines.append(f"accepted {item.name} ({what})")
        else:
            lines.append(f"{item.name} is fresh: nothing to accept")
    return "\n".join(lines)


def _reason_lines(reason: Reason) -> list[str]:
    if reason.kind is ReasonKind.NEVER_RUN:
        return [reason.detail]
    width = max(len(item) for item in reason.items)
    lines = []
    for item in reason.items:
        what = reason.changes.get(item, "")
        if reason.kind is ReasonKind.CODE and what == "changed":
            what += f" ({str(reason.old.get(item))[:8]} -> {str(reason.new.get(item))[:8]})"
        lines.append(f"{item:<{width}}  {what}")
    return lines


def _value(values: Any, key: str) -> str:
    return json.dumps(values[key], sort_keys=True, default=repr) if key in values else "(unset)"


def run_summary(result: RunResult) -> str:
    """The result line(s) of `fastpipe run`."""
    ran, fresh = result.names(Outcome.RAN), result.names(Outcome.FRESH)
    failed, blocked = result.names(Outcome.FAILED), result.names(Outcome.NOT_RUN)
    parts = [f"{len(ran)} ran", f"{len(fresh)} fresh"]
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    if blocked:
        parts.append(f"{len(blocked)} not run: {', '.join(blocked)}")
    return ", ".join(parts)


def dry_run(result: RunResult) -> str:
    """One line per stage that would run, with its reasons."""
    lines = []
    for stage in result.stages:
        if stage.outcome is Outcome.WOULD_RUN:
            why = reasons_line(stage.reasons) or "forced"
            lines.append(f"would run {stage.name}: {why}")
    return "\n".join(lines) if lines else "nothing to run: every selected stage is fresh"


def stage_list(stages: Sequence[tuple[StageSpec, Mapping[str, Any]]]) -> str:
    """Each stage with its deps, outputs and resolved params."""
    blocks = []
    for spec, params in stages:
        lines = [spec.name]
        for label, paths in (
            ("deps", spec.deps),
            ("outs", spec.outs),
            ("metrics", spec.metrics),
            ("plots", spec.plots),
        ):
            if paths:
                lines.append(f"  {label + ':':<9}{', '.join(paths)}")
        if params:
            shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())
            lines.append(f"  {'params:':<9}{shown}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) if blocks else "no stages"


def event_line(event: Event, *, verbose: bool = False) -> str | None:
    """A plain progress line for stderr, or None for events not shown."""
    match event:
        case WarningIssued(message=message):
            return f"fastpipe: warning: {message}"
        case Waiting(message=message):
            return f"fastpipe: {message}"
        case StageStarted(name=name, reasons=reasons, forced=forced):
            why = "forced" if forced else reasons_line(reasons)
            return f"running {name} ({why})"
        case StageSkipped(name=name):
            return f"fresh {name}" if verbose else None
        case StageFinished(name=name, ok=True, duration=duration):
            return f"done {name} in {duration:.2f}s"
        case StageFinished(name=name, duration=duration, error=error):
            body = "\n".join(f"  {line}" for line in (error or "").splitlines())
            return f"failed {name} after {duration:.2f}s:\n{body}"
        case StageOutput(stage=None, line=text):
            return text
        case StageOutput(stage=stage, line=text):
            return f"[{stage}] {text}"
        case StageRetrying(name=name, attempt=attempt, attempts=attempts, error=error):
            last = (error or "").strip().splitlines()[-1:] or ["failed"]
            return f"retrying {name} (attempt {attempt} of {attempts}) after: {last[0]}"
        case RunStarted(stages=stages, executor=executor, jobs=jobs):
            if not verbose:
                return None
            return f"{len(stages)} stages selected; executor {executor}, {jobs} at a time"
        case StagesBlocked(names=names, why=why):
            return f"not run ({why}): {', '.join(names)}"
    return None

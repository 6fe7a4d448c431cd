"""Text for humans: status tables, explanations, run summaries, and progress lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastpipe.events import (
    Event,
    FastPathOff,
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
from fastpipe.results import Outcome, RunResult
from fastpipe.staleness import Reason, ReasonKind, StageStatus

if TYPE_CHECKING:
    from fastpipe.checkout import CheckoutReport
    from fastpipe.gc import GcReport
    from fastpipe.stage import StageSpec
    from fastpipe.watch import Cycle


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
    restored = result.names(Outcome.RESTORED)
    if restored:
        parts.append(f"{len(restored)} restored")
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    if blocked:
        parts.append(f"{len(blocked)} not run: {', '.join(blocked)}")
    return ", ".join(parts)


def watch_cycle(cycle: Cycle) -> str:
    """`run --watch`: one line per cycle, what triggered it and what it did."""
    if cycle.number == 0:
        what = "first run"
    else:
        shown = ", ".join(cycle.changed[:3]) + (" ..." if len(cycle.changed) > 3 else "")
        what = f"cycle {cycle.number} ({shown} changed)"
    done = "error (above), nothing run" if cycle.result is None else run_summary(cycle.result)
    return f"watch: {what}: {done} ({cycle.seconds:.2f}s); watching (Ctrl-C stops)"


def checkout_report(report: CheckoutReport) -> str:
    """The result of `fastpipe checkout`: counts, then each problem on its own line."""
    kept = f"{len(report.kept)} kept (modified), " if report.kept else ""
    lines = [
        f"{len(report.restored)} restored, {len(report.unchanged)} unchanged, {kept}"
        f"{report.removed} extra files removed"
    ]
    for p in report.kept:
        lines.append(
            f"kept {p.path} (stage {p.stage}): modified and not in the cache; --force replaces it"
        )
    for p in report.missing:
        lines.append(f"missing from the cache: {p.path} (stage {p.stage}, object {p.hash})")
    return "\n".join(lines)


def gc_report(report: GcReport) -> str:
    """The result of `fastpipe gc`: what went (or would go) and the bytes freed."""
    verb = "would remove" if report.dry_run else "removed"
    runs = "entry" if report.run_entries == 1 else "entries"
    return (
        f"{verb} {report.objects} objects, {report.run_entries} run-cache {runs} and "
        f"{report.temp_files} temp files: {_size(report.bytes_freed)} freed; "
        f"{report.kept} objects kept"
    )


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


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
        case StageRestored(name=name, detail=detail):
            return f"restored {name} ({detail})"
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
        case FastPathOff(causes=causes):
            if not verbose:
                return None
            return "\n".join(f"fast path off: {cause}" for cause in causes)
    return None

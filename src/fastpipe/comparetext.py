"""Metrics and params as text: plain aligned tables, Markdown tables (for PR comments), JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastpipe.compare import Diff, Values
from fastpipe.metricsfile import ABSENT, diff_json, show_value
from fastpipe.runhistory import RunRecord

NO_CHANGES = "No changes."


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool = False) -> str:
    """Columns aligned with two spaces (or a Markdown table); numbers are not special."""
    if markdown:
        lines = [_md_row(header), _md_row(["---"] * len(header))]
        return "\n".join([*lines, *(_md_row(r) for r in rows)])
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    )


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def metrics_show(values: Values, *, markdown: bool = False) -> str:
    rows = [
        [path, key, show_value(value)]
        for path, flat in values.groups.items()
        for key, value in (flat or {}).items()
    ]
    rows += [[path, ABSENT, ABSENT] for path, flat in values.groups.items() if flat is None]
    if not rows:
        return "No metrics."
    return table(["Path", "Metric", "Value"], rows, markdown=markdown)


def params_show(values: Values, *, markdown: bool = False) -> str:
    rows = [
        [f"{stage}.{key}", show_value(value)]
        for stage, flat in values.groups.items()
        for key, value in (flat or {}).items()
    ]
    if not rows:
        return "No params."
    return table(["Param", "Value"], rows, markdown=markdown)


def metrics_diff(diff: Diff, *, markdown: bool = False) -> str:
    rows = [
        [c.group, c.key, show_value(c.old), show_value(c.new), _change(c.diff)]
        for c in diff.changes
    ]
    if not rows:
        return NO_CHANGES
    return table(["Path", "Metric", "Old", "New", "Change"], rows, markdown=markdown)


def params_diff(diff: Diff, *, markdown: bool = False) -> str:
    rows = [
        [f"{c.group}.{c.key}", show_value(c.old), show_value(c.new), _change(c.diff)]
        for c in diff.changes
    ]
    if not rows:
        return NO_CHANGES
    return table(["Param", "Old", "New", "Change"], rows, markdown=markdown)


def _change(delta: float | int | None) -> str:
    if delta is None:
        return ABSENT
    return f"+{delta}" if delta > 0 else str(delta)


def values_json(values: Values) -> dict[str, Any]:
    """`{group: {key: value}}`; an absent group is left out."""
    return {group: dict(flat) for group, flat in values.groups.items() if flat is not None}


def diff_to_json(diff: Diff) -> dict[str, dict[str, dict[str, Any]]]:
    return diff_json(list(diff.changes))


def history_table(records: Sequence[RunRecord]) -> str:
    """One line per run, newest first: id, start, wall time, outcome counts, command."""
    import time

    if not records:
        return "No runs recorded yet."
    rows = []
    for r in records:
        counts = Counter(s.outcome for s in r.stages)
        stages = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in sorted(counts.items()))
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started))
        rows.append([r.run_id, started, f"{r.wall:.2f}s", stages or "-", r.command])
    return table(["Run", "Started", "Wall", "Stages", "Command"], rows)

"""The HTML report of one recorded run: summary, a Gantt chart per worker slot, a stage table.

The critical path is the chain of stages that decided when the run ended: from the stage
that ended last, back through the upstream stage (by the graph's edges) that ended last,
until a stage with no upstream that ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from fastpipe.htmlpage import fmt_bytes, fmt_seconds, page
from fastpipe.runhistory import RunRecord, StageEntry
from fastpipe.svgchart import nice_ticks, tick_label

OUTCOME_COLOURS: Mapping[str, str] = {
    "ran": "#2f6fdb",
    "restored": "#8f5bd6",
    "fresh": "#9aa5b1",
    "failed": "#d64545",
    "not_run": "#616e7c",
}
OTHER_COLOUR = "#e8a13b"  # an outcome this version has no colour for
_SUMMARY_OUTCOMES = ("ran", "restored", "fresh", "failed")
_NOT_DISPATCHED = {  # the why column of stages that did not run
    "fresh": "up to date: code, params and deps match its lock",
    "not_run": "not run: an upstream stage failed, or the run stopped",
}

_WIDTH, _LEFT, _RIGHT, _ROW, _AXIS = 1040, 64, 34, 34, 30


def colour(outcome: str) -> str:
    return OUTCOME_COLOURS.get(outcome, OTHER_COLOUR)


def timed(record: RunRecord) -> list[StageEntry]:
    """The stages that were dispatched (they have a start and an end), by start."""
    found = [s for s in record.stages if s.start is not None and s.end is not None]
    return sorted(found, key=lambda s: (s.start or 0.0, s.name))


def critical_path(record: RunRecord) -> list[str]:
    """The stages whose chain decided the run's end, first to last."""
    ends = {s.name: s.end for s in timed(record) if s.end is not None}
    if not ends:
        return []
    upstream: dict[str, list[str]] = {}
    for a, b in record.edges:
        upstream.setdefault(b, []).append(a)
    current = max(ends, key=lambda n: (ends[n], n))
    path = [current]
    while True:
        before = [u for u in upstream.get(current, ()) if u in ends and u not in path]
        if not before:
            return path[::-1]
        current = max(before, key=lambda n: (ends[n], n))
        path.append(current)


def summed_stage_time(record: RunRecord) -> float:
    return sum(s.duration or 0.0 for s in record.stages if s.start is not None)


def speedup(record: RunRecord) -> float | None:
    """Summed stage time over wall time: how many stages ran at once, on average."""
    total = summed_stage_time(record)
    return total / record.wall if record.wall > 0 and total > 0 else None


def render(record: RunRecord) -> str:
    """The report page of `record`."""
    import time

    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
    subtitle = (
        f"{record.command}  ·  started {when}  ·  {record.executor} executor, "
        f"{record.jobs} job{'s' if record.jobs != 1 else ''}"
    )
    critical = critical_path(record)
    body = "\n".join(
        [
            _summary(record),
            "<h2>Timeline</h2>",
            f'<div class="panel">{gantt(record, critical)}</div>',
            "<h2>Stages</h2>",
            _table(record, set(critical)),
        ]
    )
    return page(f"fastpipe run {record.run_id}", body, subtitle=subtitle)


def _summary(record: RunRecord) -> str:
    cards = [(str(record.count(o)), o.replace("_", " ")) for o in _SUMMARY_OUTCOMES]
    factor = speedup(record)
    cards += [
        (fmt_seconds(record.wall), "wall time"),
        (fmt_seconds(summed_stage_time(record)), "summed stage time"),
        (f"{factor:.2f}×" if factor is not None else "-", "parallel speed-up"),
    ]
    items = "".join(
        f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div></div>'
        for v, k in cards
    )
    return f'<div class="cards summary">{items}</div>'


def gantt(record: RunRecord, critical: Sequence[str]) -> str:
    """An SVG Gantt chart: one row per worker slot, one bar per dispatched stage."""
    stages = timed(record)
    rows = max([record.jobs, *((s.slot or 0) + 1 for s in stages)])
    span = max([record.wall, *(s.end or 0.0 for s in stages)]) or 1.0
    ticks = nice_ticks(0.0, span, 8)
    scale = (_WIDTH - _LEFT - _RIGHT) / (ticks[-1] or 1.0)
    height = _AXIS + rows * _ROW + 34
    on_path = set(critical)
    parts = [
        f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" style="width:100%;height:auto" role="img">'
    ]
    for row in range(rows):
        y = _AXIS + row * _ROW
        shade = "#f7f8fa" if row % 2 == 0 else "#ffffff"
        parts.append(
            f'<rect x="{_LEFT}" y="{y}" width="{_WIDTH - _LEFT - _RIGHT}" height="{_ROW}" '
            f'fill="{shade}"/><text x="{_LEFT - 8}" y="{y + _ROW / 2 + 4}" font-size="12" '
            f'fill="#616e7c" text-anchor="end">slot {row}</text>'
        )
    for tick in ticks:
        x = _LEFT + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_AXIS - 4}" y2="{_AXIS + rows * _ROW}" '
            f'stroke="#e4e7eb"/><text x="{x:.1f}" y="{_AXIS - 9}" font-size="11" fill="#616e7c" '
            f'text-anchor="middle">{tick_label(tick)} s</text>'
        )
    for s in stages:
        parts.append(_bar(s, _AXIS + (s.slot or 0) * _ROW, scale, s.name in on_path))
    parts.append(_legend(record, _AXIS + rows * _ROW + 20, bool(on_path)))
    parts.append("</svg>")
    return "".join(parts)


def _bar(s: StageEntry, y: float, scale: float, critical: bool) -> str:
    start, end = s.start or 0.0, s.end or 0.0
    x, width = _LEFT + start * scale, max(2.0, (end - start) * scale)
    hover = f"{s.name}: {s.outcome}, {fmt_seconds(end - start)}"
    if s.why:
        hover += f"\nwhy: {s.why}"
    if s.error:
        hover += f"\nerror: {s.error}"
    if critical:
        hover += "\non the critical path"
    outline = ' stroke="#111827" stroke-width="2.5"' if critical else ""
    label = ""
    if width > 7 * len(s.name) + 10:
        label = (
            f'<text x="{x + 6:.1f}" y="{y + _ROW / 2 + 4}" font-size="12" fill="#ffffff" '
            f'font-weight="600">{escape(s.name)}</text>'
        )
    return (
        f'<g class="bar" data-stage="{escape(s.name)}" data-outcome="{escape(s.outcome)}"'
        f' data-critical="{str(critical).lower()}"><title>{escape(hover)}</title>'
        f'<rect x="{x:.1f}" y="{y + 5}" width="{width:.1f}" height="{_ROW - 10}" rx="4" '
        f'fill="{colour(s.outcome)}"{outline}/>{label}</g>'
    )


def _legend(record: RunRecord, y: float, critical: bool) -> str:
    outcomes = list(dict.fromkeys(s.outcome for s in timed(record)))
    parts = ['<g class="legend">']
    x = float(_LEFT)
    for outcome in outcomes:
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10}" width="14" height="12" rx="3" '
            f'fill="{colour(outcome)}"/><text x="{x + 19:.1f}" y="{y}" font-size="12" '
            f'fill="#3e4c59">{escape(outcome.replace("_", " "))}</text>'
        )
        x += 30 + 7 * len(outcome)
    if critical:
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10}" width="14" height="12" rx="3" fill="#ffffff" '
            f'stroke="#111827" stroke-width="2.5"/><text x="{x + 19:.1f}" y="{y}" '
            'font-size="12" fill="#3e4c59">critical path</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _table(record: RunRecord, critical: set[str]) -> str:
    header = (
        "<tr><th>Stage</th><th>Outcome</th><th class='num'>Slot</th><th class='num'>Start</th>"
        "<th class='num'>Duration</th><th class='num'>Peak RSS</th><th>GPUs</th>"
        "<th class='num'>Peak GPU memory</th><th>Why it ran</th></tr>"
    )
    rows = []
    for s in record.stages:
        name = escape(s.name) + (
            " <span title='critical path'>◆</span>" if s.name in critical else ""
        )
        why = escape(s.error or s.why or _NOT_DISPATCHED.get(s.outcome, "-"))
        rows.append(
            f"<tr class='stage' data-stage='{escape(s.name)}'>"
            f"<td class='name'><code>{name}</code></td>"
            f"<td><span class='pill' style='background:{colour(s.outcome)}'>"
            f"{escape(s.outcome.replace('_', ' '))}</span></td>"
            f"<td class='num'>{'-' if s.slot is None else s.slot}</td>"
            f"<td class='num'>{fmt_seconds(s.start)}</td>"
            f"<td class='num'>{fmt_seconds(s.duration)}</td>"
            f"<td class='num'>{fmt_bytes(s.peak_rss)}</td><td>{escape(s.gpus or '-')}</td>"
            f"<td class='num'>{fmt_bytes(s.peak_gpu_memory)}</td>"
            f"<td class='why{' error' if s.error else ''}'>{why}</td></tr>"
        )
    return f'<div class="panel"><table class="stages">{header}{"".join(rows)}</table></div>'

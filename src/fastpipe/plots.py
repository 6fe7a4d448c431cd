"""Plot files as series, and the one self-contained page that draws them.

CSV/TSV/JSON/YAML rows become line charts (svgchart.py): x is the `Plot`'s `x`, else the
first column when it is numeric and others are too, else the row index (`step`); y is the
`Plot`'s `y`, else every other numeric column. Images (png, svg, jpg, gif) are embedded as
data URIs. With several sides (revisions, the workspace) each side's series are overlaid.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any

from fastpipe.errors import MetricsError
from fastpipe.htmlpage import page
from fastpipe.metricsfile import is_number
from fastpipe.stage import Plot
from fastpipe.svgchart import Series, line_chart

IMAGE_TYPES: Mapping[str, str] = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
STEP = "step"  # the x axis when it is the row index

Row = Mapping[str, Any]


def is_image(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGE_TYPES


def data_uri(path: str, data: bytes) -> str:
    kind = IMAGE_TYPES[PurePosixPath(path).suffix.lower()]
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def parse_rows(path: str, data: bytes) -> list[Row]:
    """The rows of a CSV/TSV/JSON/YAML plot file; MetricsError if it holds no rows."""
    suffix = PurePosixPath(path).suffix.lower()
    try:
        text = data.decode("utf-8")
        if suffix in (".csv", ".tsv"):
            reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
            return [{k: _number(v) for k, v in row.items() if k is not None} for row in reader]
        loaded = _load(suffix, text)
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise MetricsError(f"plot file '{path}' cannot be read: {reason}") from exc
    rows = _rows(loaded)
    if rows is None:
        raise MetricsError(f"plot file '{path}' holds no rows (a list of records, or columns)")
    return rows


def _load(suffix: str, text: str) -> object:
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(" ".join(str(exc).split())) from exc
    return json.loads(text)


def _rows(value: object) -> list[Row] | None:
    """Records from a list of mappings, a mapping of equal-length lists, or a mapping holding
    exactly one of those (`{"train": [...]}`)."""
    if isinstance(value, list) and all(isinstance(r, Mapping) for r in value):  # type: ignore[misc]
        return [dict(r) for r in value]  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        columns: dict[str, Any] = {str(k): v for k, v in value.items()}  # type: ignore[misc]
        if columns and all(isinstance(v, list) for v in columns.values()):
            if len(columns) == 1:
                inner = _rows(next(iter(columns.values())))
                if inner is not None and inner and isinstance(inner[0], Mapping):
                    return inner
            length = min(len(v) for v in columns.values())
            return [{k: v[i] for k, v in columns.items()} for i in range(length)]
    return None


def _number(cell: str | None) -> Any:
    if cell is None:
        return None
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell


def series(path: str, rows: Sequence[Row], plot: Plot, label: str = "") -> tuple[str, list[Series]]:
    """(x axis name, one Series per y column) of `rows`; MetricsError if nothing to draw."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    numeric = [c for c in columns if any(is_number(r.get(c)) for r in rows)]
    x = plot.x
    if x is None:
        x = columns[0] if columns and columns[0] in numeric and len(numeric) > 1 else STEP
    elif x not in columns:
        raise MetricsError(f"plot file '{path}' has no column '{x}' for x")
    ys = _y_columns(path, plot, columns, numeric, x)
    found: list[Series] = []
    for y in ys:
        points = tuple(
            (float(i if x == STEP else row[x]), float(row[y]))
            for i, row in enumerate(rows)
            if is_number(row.get(y)) and (x == STEP or is_number(row.get(x)))
        )
        found.append(Series(f"{label}: {y}" if label else y, points))
    return x, found


def _y_columns(
    path: str, plot: Plot, columns: list[str], numeric: list[str], x: str
) -> tuple[str, ...]:
    wanted = plot.y
    if wanted is None:
        ys = tuple(c for c in numeric if c != x)
    else:
        ys = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        missing = [y for y in ys if y not in columns]
        if missing:
            raise MetricsError(f"plot file '{path}' has no column '{missing[0]}' for y")
    if not ys or not all(y in numeric for y in ys):
        raise MetricsError(f"plot file '{path}' has no numeric column to draw")
    return ys


@dataclass(frozen=True)
class Figure:
    """One declared plot across the sides that have it: a chart, images, or an error."""

    path: str
    html: str
    errors: tuple[str, ...] = ()


def figure(plot: Plot, sides: Sequence[tuple[str, bytes | None]]) -> Figure:
    """The figure of `plot` given each side's (label, bytes); absent sides are skipped."""
    title = escape(plot.title or plot.path)
    present = [(label, data) for label, data in sides if data is not None]
    head = f'<figure class="plot" data-path="{escape(plot.path)}"><figcaption>{title}</figcaption>'
    if not present:
        return Figure(plot.path, f"{head}<p class='why'>not present on any side</p></figure>")
    if is_image(plot.path):
        images = "".join(
            f'<div><img alt="{escape(label)}" src="{data_uri(plot.path, data)}"><br>'
            f"{escape(label)}</div>"
            for label, data in present
        )
        return Figure(plot.path, f'{head}<div class="imgs">{images}</div></figure>')
    drawn: list[Series] = []
    errors: list[str] = []
    x = STEP
    for label, data in present:
        try:
            x, found = series(
                plot.path, parse_rows(plot.path, data), plot, label if len(sides) > 1 else ""
            )
        except MetricsError as exc:
            errors.append(str(exc) if len(sides) == 1 else f"{exc} (at {label})")
            continue
        drawn.extend(found)
    if not drawn:
        note = escape(errors[0]) if errors else "nothing to draw"
        return Figure(plot.path, f"{head}<p class='error'>{note}</p></figure>", tuple(errors))
    chart = line_chart(drawn, x_label=x)
    return Figure(plot.path, f"{head}{chart}</figure>", tuple(errors))


def render_page(figures: Sequence[Figure], labels: Sequence[str]) -> str:
    """The plots page: one figure per declared plot file."""
    subtitle = "compared: " + ", ".join(labels) if len(labels) > 1 else f"at {labels[0]}"
    if not figures:
        return page("fastpipe plots", "<p>No plots declared.</p>", subtitle=subtitle)
    body = '<div class="charts">' + "".join(f.html for f in figures) + "</div>"
    return page("fastpipe plots", body, subtitle=subtitle)


@dataclass(frozen=True)
class PlotsPage:
    """What `plots show/diff` wrote: the page, the plots on it, the files that failed."""

    path: Path
    plots: tuple[str, ...]
    sides: tuple[str, ...]
    errors: tuple[str, ...] = ()

"""Tests for fastpipe.plots and fastpipe.svgchart: files to series, series to SVG, figures."""

from __future__ import annotations

import json

import pytest

from fastpipe.errors import MetricsError
from fastpipe.plots import data_uri, figure, parse_rows, render_page, series
from fastpipe.stage import Plot
from fastpipe.svgchart import Series, line_chart, nice_ticks

CSV = b"epoch,loss,acc,note\n0,1.0,0.5,a\n1,0.5,0.7,b\n2,0.25,0.8,c\n"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("p.csv", CSV),
        ("p.tsv", CSV.replace(b",", b"\t")),
        (
            "p.json",
            json.dumps(
                [
                    {"epoch": 0, "loss": 1.0, "acc": 0.5, "note": "a"},
                    {"epoch": 1, "loss": 0.5, "acc": 0.7, "note": "b"},
                    {"epoch": 2, "loss": 0.25, "acc": 0.8, "note": "c"},
                ]
            ).encode(),
        ),
        (
            "p.json",
            json.dumps(
                {
                    "epoch": [0, 1, 2],
                    "loss": [1.0, 0.5, 0.25],
                    "acc": [0.5, 0.7, 0.8],
                    "note": ["a", "b", "c"],
                }
            ).encode(),
        ),
        (
            "p.yaml",
            b"train:\n- {epoch: 0, loss: 1.0, acc: 0.5, note: a}\n"
            b"- {epoch: 1, loss: 0.5, acc: 0.7, note: b}\n"
            b"- {epoch: 2, loss: 0.25, acc: 0.8, note: c}\n",
        ),
    ],
)
def test_every_format_gives_the_same_series(path: str, data: bytes) -> None:
    x, found = series(path, parse_rows(path, data), Plot(path))
    assert x == "epoch"  # the first column, numeric, with other numeric columns
    assert found == [
        Series("loss", ((0.0, 1.0), (1.0, 0.5), (2.0, 0.25))),
        Series("acc", ((0.0, 0.5), (1.0, 0.7), (2.0, 0.8))),
    ]


def test_x_and_y_chosen_by_the_plot_and_the_row_index_by_default() -> None:
    rows = parse_rows("p.csv", CSV)
    x, found = series("p.csv", rows, Plot("p.csv", x="loss", y="acc"), "HEAD")
    assert x == "loss"
    assert found == [Series("HEAD: acc", ((1.0, 0.5), (0.5, 0.7), (0.25, 0.8)))]
    x, found = series("q.csv", parse_rows("q.csv", b"note,loss\na,3\nb,4\n"), Plot("q.csv"))
    assert x == "step"
    assert found == [Series("loss", ((0.0, 3.0), (1.0, 4.0)))]


@pytest.mark.parametrize(
    ("plot", "data", "message"),
    [
        (Plot("p.csv"), b"name,kind\na,b\n", "plot file 'p.csv' has no numeric column to draw"),
        (Plot("p.csv", y="nope"), CSV, "plot file 'p.csv' has no column 'nope' for y"),
        (Plot("p.csv", x="nope"), CSV, "plot file 'p.csv' has no column 'nope' for x"),
        (Plot("p.json"), b"{bad", "plot file 'p.json' cannot be read: "),
        (Plot("p.json"), b"3", "plot file 'p.json' holds no rows"),
    ],
)
def test_bad_plot_files_name_the_file(plot: Plot, data: bytes, message: str) -> None:
    with pytest.raises(MetricsError) as err:
        series(plot.path, parse_rows(plot.path, data), plot)
    assert str(err.value).startswith(message)


def test_a_figure_overlays_sides_and_embeds_images() -> None:
    chart = figure(Plot("p.csv", title="Loss"), [("HEAD", CSV), ("workspace", CSV)])
    assert chart.html.count('<svg class="chart"') == 1
    assert chart.html.count('class="series"') == 4
    assert 'data-label="workspace: acc"' in chart.html
    assert '<g class="legend">' in chart.html
    image = figure(Plot("c.png"), [("HEAD", b"\x89PNG"), ("workspace", None)])
    assert image.html.count("<img") == 1
    assert data_uri("c.png", b"\x89PNG") == "data:image/png;base64,iVBORw=="
    bad = figure(Plot("b.csv"), [("workspace", b"a\nx\n")])
    assert bad.errors == ("plot file 'b.csv' has no numeric column to draw",)
    page = render_page([chart, image, bad], ["HEAD", "workspace"])
    assert page.count('<figure class="plot"') == 3
    assert "compared: HEAD, workspace" in page


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.3, 0.3) == [0.3, 0.4, 0.5, 0.6]  # an empty range gets a width
    assert nice_ticks(0, 19, 4) == [0, 5, 10, 15, 20]
    assert nice_ticks(float("nan"), 1) == [0.0]


def test_a_single_point_series_is_drawn_as_a_dot() -> None:
    svg = line_chart([Series("auc", ((1.0, 0.5),))], x_label="epoch", y_label="auc")
    assert "<circle" in svg and ">epoch</text>" in svg and "rotate(-90" in svg

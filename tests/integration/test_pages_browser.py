"""The run report and the plots page in a real headless Chromium: DOM, screenshot, no network."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.browser import RecordingProxy, dump_dom, require_chromium, screenshot
from tests.integration.conftest import MakeProject
from tests.integration.project import Project

PIPELINE = """\
import json
from pathlib import Path

from fastpipe import Plot, stage


@stage(outs=["data.txt"])
def prepare() -> None:
    Path("data.txt").write_text("1 2 3\\n")


@stage(deps=["data.txt"], outs=["left.txt"])
def left() -> None:
    Path("left.txt").write_text("left\\n")


@stage(deps=["data.txt"], outs=["right.txt"])
def right() -> None:
    Path("right.txt").write_text("right\\n")


@stage(
    deps=["left.txt", "right.txt"],
    metrics=["metrics.json"],
    plots=[Plot("loss.csv", x="epoch", y="loss", title="Loss"), "acc.json", "curve.svg"],
)
def train(lr: float = 0.1) -> None:
    rows = ["epoch,loss"] + [f"{i},{1 / (1 + lr * i):.4f}" for i in range(10)]
    Path("loss.csv").write_text("\\n".join(rows) + "\\n")
    Path("acc.json").write_text(json.dumps([{"acc": 0.5 + lr * i} for i in range(5)]))
    Path("curve.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" '
        'height="20" fill="teal"/></svg>'
    )
    Path("metrics.json").write_text(json.dumps({"auc": 0.5 + lr}))
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def ran(make_project: MakeProject) -> Project:
    project = make_project({"pipeline.py": PIPELINE})
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "config", "user.email", "t@example.com")
    git(project.root, "config", "user.name", "t")
    project.ok("run", "-j", "2", "--executor", "process")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "first")
    project.write("params.yaml", "train:\n  lr: 0.3\n")
    project.ok("run", "-j", "2", "--executor", "process", "--report", "report.html")
    return project


def test_no_request_leaves_the_report_or_the_plots_page(ran: Project, tmp_path: Path) -> None:
    require_chromium()
    assert ran.ok("plots", "diff", "-o", "plots").out.strip().endswith("index.html")
    with RecordingProxy() as proxy:
        report = dump_dom(ran.path("report.html"), proxy=proxy, profile=tmp_path / "p1")
        page = dump_dom(ran.path("plots/index.html"), proxy=proxy, profile=tmp_path / "p2")
        png = screenshot(
            ran.path("report.html"), tmp_path / "r.png", proxy=proxy, profile=tmp_path / "p3"
        )
    assert proxy.requests == []
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    run = json.loads(ran.ok("history", "-n", "1", "--json").out)["runs"][0]
    dispatched = [s["name"] for s in run["stages"] if s["start"] is not None]
    assert dispatched == ["train"]  # only lr changed
    assert re.findall(r'<g class="bar" data-stage="(\w+)"', report) == dispatched
    assert len(re.findall(r'<figure class="plot"', page)) == 3
    assert len(re.findall(r'<svg class="chart"', page)) == 2  # the csv and the json
    assert len(re.findall(r'<img alt="(?:HEAD|workspace)" src="data:image/svg\+xml', page)) == 2
    assert 'data-label="HEAD: loss"' in page and 'data-label="workspace: loss"' in page


def test_the_first_run_draws_a_bar_per_stage_on_two_slots(ran: Project, tmp_path: Path) -> None:
    require_chromium()
    runs = json.loads(ran.ok("history", "--json").out)["runs"]
    first = runs[-1]
    assert ran.ok("report", first["run_id"], "-o", "first.html").out.strip() == "first.html"
    with RecordingProxy() as proxy:
        dom = dump_dom(ran.path("first.html"), proxy=proxy, profile=tmp_path / "p")
    assert proxy.requests == []
    bars = re.findall(r'<g class="bar" data-stage="(\w+)" data-outcome="(\w+)"', dom)
    assert sorted(bars) == [(n, "ran") for n in ("left", "prepare", "right", "train")]
    assert {s["slot"] for s in first["stages"]} <= {0, 1}
    assert "slot 1" in dom


def test_the_proxy_sees_a_page_that_does_fetch(tmp_path: Path) -> None:
    """The control: without it, an empty request list would prove nothing."""
    require_chromium()
    page = tmp_path / "fetching.html"
    page.write_text('<html><body><img src="http://fastpipe-test.invalid/x.png"></body></html>')
    with RecordingProxy() as proxy:
        dump_dom(page, proxy=proxy, profile=tmp_path / "p")
    assert any("fastpipe-test.invalid" in r for r in proxy.requests), proxy.requests


def test_the_proxy_tells_the_browser_s_own_traffic_from_the_page_s() -> None:
    from tests.integration.browser import _host

    assert _host("CONNECT update.googleapis.com:443 HTTP/1.1") == "update.googleapis.com"
    assert _host("GET http://fonts.googleapis.com/css?family=x HTTP/1.1") == "fonts.googleapis.com"

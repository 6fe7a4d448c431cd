"""`history`, `report` and `plots` from the command line: records, files and errors."""

from __future__ import annotations

import json

from tests.integration.conftest import MakeProject
from tests.integration.project import ERROR_PREFIX, Project
from tests.integration.test_pages_browser import PIPELINE, git


def test_every_run_is_recorded_and_listed_newest_first(project: Project) -> None:
    project.ok("run", "--force", "clean", "-j", "2")
    project.ok("run")  # everything fresh: recorded too
    runs = json.loads(project.ok("history", "--json").out)["runs"]
    latest, forced = runs[0], runs[1]
    assert [s["outcome"] for s in latest["stages"]] == ["fresh"] * len(latest["stages"])
    assert forced["command"] == "fastpipe run --force clean -j 2"
    assert forced["schema"] == 1 and forced["jobs"] >= 1
    (clean,) = [s for s in forced["stages"] if s["name"] == "clean"]
    assert clean["outcome"] == "ran" and clean["slot"] == 0
    assert 0 <= clean["start"] <= clean["end"] and clean["duration"] > 0
    assert clean["peak_rss"] > 1_000_000  # a Python process is bigger than a megabyte
    assert clean["gpus"] is None and clean["peak_gpu_memory"] is None
    assert project.exists(".fastpipe/cache/runs.json")  # durations still order the next run
    lines = project.ok("history", "-n", "1").out.splitlines()
    assert lines[0].split() == ["Run", "Started", "Wall", "Stages", "Command"]
    assert lines[1].startswith(latest["run_id"]) and lines[1].endswith("fastpipe run")
    assert len(lines) == 2


def test_report_of_the_latest_run_and_of_one_by_id(project: Project) -> None:
    project.ok("run", "--force")
    assert project.ok("report").out.strip() == "fastpipe-report.html"
    html = project.read("fastpipe-report.html")
    assert html.startswith("<!DOCTYPE html>") and html.count('<g class="bar"') == 5
    run_id = json.loads(project.ok("history", "--json").out)["runs"][0]["run_id"]
    assert run_id in html
    project.ok("report", run_id, "-o", "out/r.html")
    assert project.read("out/r.html") == html


def test_an_unknown_run_id_is_one_line_exit_2(project: Project) -> None:
    result = project.run("report", "20200101-000000-dead")
    assert result.code == 2
    assert result.err_lines == [
        f"{ERROR_PREFIX}no run '20200101-000000-dead' in .fastpipe/runs/ "
        "(`fastpipe history` lists the runs)"
    ]


def test_no_history_yet(make_project: MakeProject) -> None:
    fresh = make_project({"pipeline.py": PIPELINE})
    result = fresh.run("report")
    assert result.code == 2
    assert result.err_lines == [
        f"{ERROR_PREFIX}no run recorded yet in .fastpipe/runs/; run `fastpipe run`"
    ]
    assert fresh.ok("history").out == "No runs recorded yet.\n"


def test_a_bad_plot_file_is_named_and_the_others_still_drawn(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE})
    project.ok("run", "--executor", "inline")
    project.write("loss.csv", "epoch,loss\na,b\n")
    result = project.run("plots", "show")
    assert result.code == 2
    assert result.err_lines == [f"{ERROR_PREFIX}plot file 'loss.csv' has no numeric column to draw"]
    page = project.read("fastpipe-plots/index.html")
    assert page.count('<figure class="plot"') == 3 and page.count('<svg class="chart"') == 1
    assert "not inside a git repository" in project.run("plots", "diff").err
    git(project.root, "init", "-q", "-b", "main")
    result = project.run("plots", "diff", "nosuchrev")
    assert result.code == 2
    assert result.err_lines == [
        f"{ERROR_PREFIX}unknown revision 'nosuchrev' (not a branch, tag or commit)"
    ]


FAILING = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["a.txt"])
def a() -> None:
    Path("a.txt").write_text("a")


@stage(deps=["a.txt"], outs=["b.txt"])
def b() -> None:
    raise ValueError("bad data in a.txt")


@stage(deps=["b.txt"], outs=["c.txt"])
def c() -> None:
    Path("c.txt").write_text("c")
"""


def test_a_failed_run_is_recorded_with_what_went_wrong(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": FAILING})
    result = project.run("run", "--executor", "process", "--report", "r.html")
    assert result.code == 1
    (run,) = json.loads(project.ok("history", "--json").out)["runs"]
    outcomes = {s["name"]: (s["outcome"], s["error"]) for s in run["stages"]}
    assert outcomes == {
        "a": ("ran", None),
        "b": ("failed", "ValueError: bad data in a.txt"),
        "c": ("not_run", None),
    }
    html = project.read("r.html")
    assert 'data-stage="b" data-outcome="failed"' in html
    assert "ValueError: bad data in a.txt" in html

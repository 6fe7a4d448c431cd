"""`fastpipe accept`: the current code and params become the stage's truth, without a run."""

from __future__ import annotations

import json
import re

from tests.integration.conftest import MakeProject
from tests.integration.project import Project

PIPELINE = """\
from pathlib import Path

from fastpipe import stage


def helper(x):
    return x + 1


@stage(deps=["in.txt"], outs=["out.txt"])
def make() -> None:
    Path("out.txt").write_text(str(helper(int(Path("in.txt").read_text()))))


@stage(outs=["never.txt"])
def never() -> None:
    Path("never.txt").write_text("x")
"""


def _ran(make_project: MakeProject) -> Project:
    project = make_project({"pipeline.py": PIPELINE, "in.txt": "1"})
    assert project.run("run", "make").code == 0
    return project


def test_accept_a_rename_keeps_outputs_and_records_why(make_project: MakeProject) -> None:
    project = _ran(make_project)
    old_lock = project.read(".fastpipe/stages/make.lock")
    old_hash = re.search(r"pipeline.helper: (\w+)", old_lock)
    assert old_hash is not None
    project.edit(
        "pipeline.py", "def helper(x):\n    return x + 1", "def helper(y):\n    return y + 1"
    )
    out_before = project.path("out.txt").stat().st_mtime_ns

    result = project.run("accept", "make", "--because", "renamed a parameter")

    assert result.code == 0, result
    assert result.out == "accepted make (code: pipeline.helper changed)\n"
    assert project.path("out.txt").stat().st_mtime_ns == out_before  # never ran
    lock = project.read(".fastpipe/stages/make.lock")
    assert "because: renamed a parameter\n" in lock
    assert f"pipeline.helper: {old_hash.group(1)}\n" in lock.split("previous:")[1]
    status = json.loads(project.run("status", "--json").out)["stages"]
    make = next(s for s in status if s["name"] == "make")
    assert make["status"] == "fresh"
    assert make["accepted"]["because"] == "renamed a parameter"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", make["accepted"]["at"])
    assert make["accepted"]["previous"] == {"pipeline.helper": old_hash.group(1)}
    explain = project.run("explain", "make").out
    assert "accepted without running at " in explain and "renamed a parameter" in explain

    assert "running make" not in project.run("run").err  # fresh: nothing reruns
    assert project.path("out.txt").stat().st_mtime_ns == out_before


def test_accept_refuses_changed_deps_unless_forced(make_project: MakeProject) -> None:
    project = _ran(make_project)
    project.write("in.txt", "2")
    lock = project.read(".fastpipe/stages/make.lock")

    refused = project.run("accept", "make", "--because", "same")

    assert refused.code == 2
    assert refused.err.startswith("fastpipe: error: stage 'make': deps: in.txt changed"), refused
    assert "--force" in refused.err and len(refused.err.splitlines()) == 1
    assert project.read(".fastpipe/stages/make.lock") == lock

    old_dep = re.search(r"in.txt:\n    hash: (\w+)", lock)
    assert old_dep is not None
    assert project.run("accept", "make", "--because", "same", "--force").code == 0
    status = project.status()
    assert status["make"]["status"] == "fresh"
    assert status["make"]["accepted"]["previous"] == {"deps in.txt": old_dep.group(1)}


def test_a_stage_never_run_cannot_be_accepted(make_project: MakeProject) -> None:
    project = _ran(make_project)
    result = project.run("accept", "never", "--because", "x")
    assert result.code == 2
    assert "stage 'never' has no lock to accept into" in result.err
    assert not project.exists(".fastpipe/stages/never.lock")

"""`fastpipe verify`: fresh stages re-run in a temporary copy, outputs compared."""

from __future__ import annotations

import json

from fastpipe.layout import Layout
from fastpipe.verify import is_nondeterministic
from tests.integration.conftest import MakeProject

PIPELINE = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(deps=["in.txt"], outs=["steady.txt"])
def steady() -> None:
    Path("steady.txt").write_text(Path("in.txt").read_text() * 2)


@stage(outs=["noise.bin"])
def noise() -> None:
    Path("noise.bin").write_bytes(os.urandom(16))
"""


def test_random_bytes_are_reported_and_recorded(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE, "in.txt": "a"})
    assert project.run("run").code == 0
    before = project.path("noise.bin").read_bytes()

    result = project.run("verify")

    assert result.code == 1, result
    assert "noise is nondeterministic: noise.bin came out different on a re-run" in result.out
    assert "steady verified: its outputs came out identical" in result.out
    assert project.path("noise.bin").read_bytes() == before  # the project is never written
    record = json.loads(project.read(".fastpipe/cache/nondeterministic.json"))
    assert record["schema"] == 1 and record["stages"]["noise"]["paths"] == ["noise.bin"]
    assert is_nondeterministic(Layout(project.root), "noise")
    assert not is_nondeterministic(Layout(project.root), "steady")

    assert project.run("verify", "steady").code == 0


def test_stale_stages_are_skipped(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE, "in.txt": "a"})
    assert project.run("run", "steady").code == 0
    project.write("in.txt", "b")

    result = project.run("verify", "steady")

    assert result.code == 0, result
    assert result.out == "skipped steady: stale: run it first\n"


NOISE_WITH_PARAM = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(outs=["noise.bin"])
def noise(size: int = 16) -> None:
    Path("noise.bin").write_bytes(os.urandom(size))
"""


def test_the_run_cache_warns_before_restoring_a_nondeterministic_stage(
    make_project: MakeProject,
) -> None:
    project = make_project({"pipeline.py": NOISE_WITH_PARAM})
    assert project.run("run").code == 0
    assert project.run("verify").code == 1
    project.write("params.yaml", "noise:\n  size: 8\n")
    assert project.run("run").code == 0
    project.write("params.yaml", "noise:\n  size: 16\n")  # back: the run cache knows it

    result = project.run("run")

    assert result.code == 0, result
    assert "found them nondeterministic" in result.err
    assert "stage 'noise'" in result.err

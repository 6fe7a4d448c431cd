"""Each warning is printed once per command, and only when it applies."""

from __future__ import annotations

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import ERROR_PREFIX, Project

BROKEN = {
    "syntax": "from fastpipe import stage\n\n@stage(outs=['a.txt'])\ndef a(:\n    pass\n",
    "import": "import helpers_that_do_not_exist\n",
}


@pytest.mark.parametrize("text", BROKEN.values(), ids=list(BROKEN))
def test_run_reports_a_broken_pipeline_alone(make_project: MakeProject, text: str) -> None:
    project = make_project({"pipeline.py": text})

    result = project.run("run")

    assert result.code == 2, result
    assert result.err_lines[-1].startswith(ERROR_PREFIX), result
    assert not [line for line in result.err_lines if "warning" in line], result.err
    assert "preload" not in result.err and "warm" not in result.err, result.err


def _warnings(err_lines: list[str], fragment: str) -> list[str]:
    return [line for line in err_lines if "warning" in line and fragment in line]


def test_a_malformed_lock_is_reported_once_per_command(project: Project) -> None:
    project.ok("status")  # a snapshot exists: the fast path is tried first
    project.path(".fastpipe/stages/featurize.lock").write_text("code: [unclosed\n")

    status = project.ok("status")
    ran = project.ok("run")

    assert len(_warnings(status.err_lines, "'featurize'")) == 1, status.err
    assert len(_warnings(ran.err_lines, "'featurize'")) == 1, ran.err
    assert project.runs() == ["featurize"]


ENVIRONMENT = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(outs=["a.txt"])
def a() -> None:
    Path("a.txt").write_text(os.environ.get("HOME", ""))


@stage(deps=["a.txt"], outs=["b.txt"])
def b() -> None:
    Path("b.txt").write_text(Path("a.txt").read_text())
"""


def test_a_code_warning_is_reported_once_per_command(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": ENVIRONMENT})
    project.ok("run")
    project.path("b.txt").unlink()  # stale, seen from the fast path first

    ran = project.ok("run")
    status = project.ok("status")

    assert len(_warnings(ran.err_lines, "environment")) == 1, ran.err
    assert len(_warnings(status.err_lines, "environment")) == 1, status.err

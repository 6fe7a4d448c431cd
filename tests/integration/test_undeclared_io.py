"""Undeclared I/O: a stage that reads or writes files it did not declare is warned about,
and fails under `run --strict-io` or `strict_io = true`."""

from __future__ import annotations

import pytest

from tests.integration.conftest import MakeProject

PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(deps=["data"], outs=["out.txt"])
def sneaky() -> None:
    extra = Path("extra.csv").read_text()
    inside = Path("data/a.txt").read_text()
    Path("scratch.tmp").write_text("x")
    Path("out.txt").write_text(extra + inside)


@stage(deps=["data"], outs=["clean.txt"])
def honest() -> None:
    Path("clean.txt").write_text(Path("data/a.txt").read_text())
"""
FILES = {"pipeline.py": PIPELINE, "extra.csv": "e", "data/a.txt": "a"}


def test_undeclared_read_and_write_are_warned_with_the_fix(make_project: MakeProject) -> None:
    project = make_project(FILES)

    result = project.run("run")

    assert result.code == 0, result
    warnings = [line for line in result.err_lines if "not among its" in line]
    assert len(warnings) == 2, result.err
    assert "stage 'sneaky' read extra.csv, not among its deps: add it to deps=" in warnings[0]
    assert (
        "stage 'sneaky' wrote scratch.tmp, not among its outputs: add it to outs=" in (warnings[1])
    )
    assert "honest" not in " ".join(warnings)  # a dep directory's files are declared
    assert project.exists(".fastpipe/stages/sneaky.lock")


@pytest.mark.parametrize("executor", ["inline", "process", "warm"])
def test_strict_io_fails_the_stage(make_project: MakeProject, executor: str) -> None:
    project = make_project(FILES)

    result = project.run("run", "--strict-io", "--executor", executor)

    assert result.code == 1, result
    assert "stage 'sneaky' opened undeclared files (--strict-io)" in result.err
    assert not project.exists(".fastpipe/stages/sneaky.lock")
    assert project.exists(".fastpipe/stages/honest.lock")


def test_strict_io_from_pyproject(make_project: MakeProject) -> None:
    project = make_project({**FILES, "pyproject.toml": "[tool.fastpipe]\nstrict_io = true\n"})
    assert project.run("run").code == 1
    assert not project.exists(".fastpipe/stages/sneaky.lock")

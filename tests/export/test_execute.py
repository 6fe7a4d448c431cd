"""`fastpipe exec STAGE`: one stage, here, with its resolved params; no lock, no state."""

from __future__ import annotations

from pathlib import Path

import pytest

import fastpipe.api as api
from fastpipe.errors import GraphError, UnknownStageError
from tests.export.conftest import MakeProject
from tests.integration.project import fastpipe


def test_runs_the_stage_with_params_from_params_yaml(project: Path) -> None:
    result = api.exec_stage("clean", root=project)

    assert result.ok, result.error
    assert (project / "data/clean.txt").read_text() == "2.0\n3.0\n4.0\n"  # threshold: 2
    assert not (project / ".fastpipe").exists()  # no lock, no log, no cache


def test_overrides_apply(project: Path) -> None:
    result = api.exec_stage("clean", root=project, params={"clean.scale": 10})

    assert result.ok, result.error
    assert (project / "data/clean.txt").read_text() == "20.0\n30.0\n40.0\n"


def test_outputs_are_removed_first_unless_persist(project: Path) -> None:
    api.exec_stage("clean", root=project)
    (project / "model").mkdir()
    (project / "model/stale.txt").write_text("left over\n")

    assert api.exec_stage("train", root=project).ok
    assert api.exec_stage("notes", root=project).ok
    assert api.exec_stage("notes", root=project).ok

    assert sorted(p.name for p in (project / "model").iterdir()) == ["weights.txt"]
    assert (project / "notes.txt").read_text() == "run\nrun\n"


def test_a_missing_dep_is_an_error_naming_it(project: Path) -> None:
    with pytest.raises(GraphError, match=r"'data/clean.txt'.*fastpipe run train"):
        api.exec_stage("train", root=project)


def test_an_unknown_stage_is_an_error(project: Path) -> None:
    with pytest.raises(UnknownStageError, match="did you mean 'train'"):
        api.exec_stage("trian", root=project)


FAILING = """\
from fastpipe import stage


@stage(outs=["out.txt"])
def broken() -> None:
    print("about to fail")
    raise ValueError("bad input")
"""


def test_cli_exits_1_with_the_stage_traceback_and_its_output(make_project: MakeProject) -> None:
    root = make_project({"pipeline.py": FAILING})

    result = fastpipe("exec", "broken", cwd=root)

    assert result.code == 1, result
    assert "[broken] about to fail" in result.err
    assert "failed broken" in result.err
    assert "ValueError: bad input" in result.err
    assert result.out == ""


def test_cli_exits_0_and_writes_outputs(project: Path) -> None:
    result = fastpipe("exec", "clean", cwd=project)

    assert result.code == 0, result
    assert "done clean" in result.err
    assert (project / "data/clean.txt").exists()


FACTORY = """\
from pathlib import Path

from fastpipe import stage


def make(text: str):
    @stage(outs=["made.txt"], name="made")
    def inner() -> None:
        Path("made.txt").write_text(text)

    return inner


made = make("from a factory\\n")
"""


def test_a_stage_not_importable_by_name_still_runs(make_project: MakeProject) -> None:
    root = make_project({"pipeline.py": FACTORY})

    result = api.exec_stage("made", root=root)

    assert result.ok, result.error
    assert (root / "made.txt").read_text() == "from a factory\n"

"""Stages that fail, outputs that are missing or stale, and what stages print."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import Project, Result

# a_first -> b_broken -> c_below, and z_independent on its own. With one job the scheduler
# follows the topological order (ties by name), so b_broken fails before z_independent starts.
FAILING = """\
from pathlib import Path

from fastpipe import stage


def record(name: str) -> None:
    with open("runs.log", "a") as f:
        f.write(name + "\\n")


def compute_ratio(values: list[int]) -> float:
    return sum(values) / len(values)


@stage(outs=["a.txt"])
def a_first() -> None:
    record("a_first")
    Path("a.txt").write_text("a\\n")


@stage(deps=["a.txt"], outs=["b.txt"])
def b_broken() -> None:
    record("b_broken")
    Path("b.txt").write_text(str(compute_ratio([])))


@stage(deps=["b.txt"], outs=["c.txt"])
def c_below() -> None:
    record("c_below")
    Path("c.txt").write_text("c\\n")


@stage(outs=["z.txt"])
def z_independent() -> None:
    record("z_independent")
    Path("z.txt").write_text("z\\n")
"""


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Result]:
    """FAILING run once with one job (read-only for the tests that share it)."""
    project = Project(tmp_path_factory.mktemp("failing") / "project")
    project.write("pipeline.py", FAILING)
    return project, project.run("run", "-j", "1")


def test_failing_stage_shows_its_traceback(failed_run: tuple[Project, Result]) -> None:
    project, result = failed_run

    assert result.code == 1, result
    assert "Traceback" in result.err
    assert "compute_ratio" in result.err and "b_broken" in result.err  # the user's frames
    assert "ZeroDivisionError: division by zero" in result.err
    assert any("b_broken" in line and "fail" in line for line in result.err_lines), result
    assert any("c_below" in line and "not run" in line for line in result.err_lines), result
    assert "b_broken" in result.out  # the summary names the failed stage
    assert not project.lock_path("b_broken").exists()
    assert not project.lock_path("c_below").exists()
    assert project.lock_path("a_first").exists()


def test_no_new_stage_starts_after_a_failure(failed_run: tuple[Project, Result]) -> None:
    project, result = failed_run

    assert result.code == 1, result
    assert project.runs() == ["a_first", "b_broken"]
    assert not project.exists("z.txt")
    assert any("z_independent" in line for line in result.err_lines), result  # named not run


def test_keep_going_runs_independent_stages(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": FAILING})

    result = project.run("run", "-j", "1", "--keep-going")

    assert result.code == 1, result
    assert project.runs() == ["a_first", "b_broken", "z_independent"]
    assert project.lock_path("z_independent").exists()
    assert not project.lock_path("c_below").exists()
    assert any("c_below" in line and "not run" in line for line in result.err_lines), result


@pytest.fixture(scope="module")
def failed_train(
    ran_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Project, Result, dict[str, tuple[int, int, bytes]]]:
    """The shared pipeline after train's helper broke: (project, the run, locks before it)."""
    project = Project(tmp_path_factory.mktemp("failed-train") / "project")
    shutil.copytree(ran_template, project.root, symlinks=True)
    project.clear_runs()
    before = project.lock_stats()
    project.edit("helpers.py", "weight = 0.0", "weight = 1 / 0")
    return project, project.run("run", "-k"), before


def test_failure_writes_no_new_lock(
    failed_train: tuple[Project, Result, dict[str, tuple[int, int, bytes]]],
) -> None:
    project, result, before = failed_train

    assert result.code == 1, result
    assert "ZeroDivisionError" in result.err and "fit" in result.err
    assert project.runs() == ["train"]
    lock = project.lock_path("train")
    assert not lock.exists() or project.lock_stats()["train.lock"] == before["train.lock"]
    assert {k: v for k, v in project.lock_stats().items() if k != "train.lock"} == {
        k: v for k, v in before.items() if k != "train.lock"
    }


def test_a_failed_stage_loses_its_lock_but_explain_still_says_what_changed(
    failed_train: tuple[Project, Result, dict[str, tuple[int, int, bytes]]],
) -> None:
    """No lock may vouch for outputs a failed run deleted or half wrote (issue 3's crash
    invariant), so the lock moves aside; explain compares with it and names the change."""
    project, _, _ = failed_train

    assert not project.lock_path("train").exists()
    result = project.run("explain", "train", "--json")

    assert result.code == 0, result
    reasons = {r["kind"]: r for r in json.loads(result.out)["reasons"]}
    assert reasons["never_run"]["detail"].startswith("its last run did not finish")
    assert "helpers.fit" in reasons["code"]["items"]


# Several behaviours of one run, shared read-only by the tests below (a run costs ~0.5 s):
# outputs removed before a stage runs unless persist, a missing out, and stage output.
OUTPUTS_PIPELINE = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(outs=["out"])
def tree() -> None:
    Path("out").mkdir()  # fails if the old directory is still there
    Path("out/new.txt").write_text("new\\n")


@stage(outs=["single.txt"])
def single() -> None:
    Path("seen-single.txt").write_text(str(Path("single.txt").exists()))
    Path("single.txt").write_text("new\\n")


@stage(outs=["kept.txt"], persist=True)
def keeper() -> None:
    Path("seen-kept.txt").write_text(str(Path("kept.txt").exists()))
    with open("kept.txt", "a") as f:
        f.write("appended\\n")


@stage(outs=["made/one.txt", "made/forgotten.txt"])
def lazy() -> None:
    Path("made/one.txt").write_text("one\\n")


@stage(outs=["talk.txt"])
def talker() -> None:
    print("hello from print")
    os.system("echo from a subprocess")
    os.system("echo to stderr >&2")
    Path("talk.txt").write_text("t\\n")
"""
LEFT_OVERS = {"out/old.txt": "left over\n", "single.txt": "left over\n", "kept.txt": "kept\n"}


@pytest.fixture(scope="module")
def outputs_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Result]:
    project = Project(tmp_path_factory.mktemp("outputs") / "project")
    project.write_files({"pipeline.py": OUTPUTS_PIPELINE, **LEFT_OVERS})
    return project, project.run("run", "--keep-going")


def test_stage_that_does_not_produce_an_out_fails(outputs_run: tuple[Project, Result]) -> None:
    project, result = outputs_run

    assert result.code == 1, result
    assert "did not produce made/forgotten.txt" in result.err
    assert not project.lock_path("lazy").exists()
    assert all(project.lock_path(name).exists() for name in ("tree", "single", "keeper"))


def test_outs_are_removed_before_a_stage_runs(outputs_run: tuple[Project, Result]) -> None:
    project, _ = outputs_run

    assert sorted(p.name for p in project.path("out").iterdir()) == ["new.txt"]
    assert project.read("seen-single.txt") == "False"
    assert project.read("single.txt") == "new\n"


def test_persist_keeps_outs_in_place(outputs_run: tuple[Project, Result]) -> None:
    project, _ = outputs_run

    assert project.read("seen-kept.txt") == "True"
    assert project.read("kept.txt") == "kept\nappended\n"


def test_stage_output_is_prefixed_and_logged(outputs_run: tuple[Project, Result]) -> None:
    project, result = outputs_run

    lines = ("hello from print", "from a subprocess", "to stderr")
    for line in lines:
        assert f"[talker] {line}" in result.err_lines, result
        assert line not in result.out  # stdout carries only the result
    assert sorted(project.log("talker").splitlines()) == sorted(lines)

"""`export --validate` without running DVC: finding dvc, the copies, the table, exit 2."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from fastpipe import cli
from fastpipe.errors import DvcError
from fastpipe.export import report
from fastpipe.export.dvcyaml import ExportPlan, ExportResult
from fastpipe.export.validate import (
    INSTALL_HINT,
    Comparison,
    ToolRun,
    ValidationReport,
    copy_project,
    find_dvc,
    require_dvc,
)


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_dvc_beside_the_interpreter_wins_over_path(tmp_path: Path) -> None:
    beside = _executable(tmp_path / "env/bin/dvc")
    on_path = _executable(tmp_path / "path/dvc")

    assert find_dvc(str(tmp_path / "env/bin/python"), str(on_path.parent)) == str(beside)
    assert find_dvc(str(tmp_path / "other/python"), str(on_path.parent)) == str(on_path)
    assert find_dvc(str(tmp_path / "other/python"), str(tmp_path / "empty")) is None


@pytest.fixture
def no_dvc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bare/bin/python"))
    monkeypatch.setenv("PATH", str(tmp_path / "bare/bin"))


@pytest.mark.usefixtures("no_dvc")
def test_without_dvc_the_error_says_how_to_install_it() -> None:
    with pytest.raises(DvcError, match=re.escape(INSTALL_HINT)):
        require_dvc()


@pytest.mark.usefixtures("no_dvc")
def test_cli_exits_2_with_the_install_hint_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli._run(["-C", str(project), "export", "--validate"])  # pyright: ignore[reportPrivateUsage]

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("fastpipe: error: ")
    assert "pip install 'fastpipe[dvc]'" in err
    assert not (project / "dvc.yaml").exists()


def test_copies_leave_out_state_outputs_virtualenvs_and_other_dvc_files(tmp_path: Path) -> None:
    root = tmp_path / "project"
    files = [
        "pipeline.py",
        "data/raw.txt",
        "data/clean.txt",
        "model/w.txt",
        ".fastpipe/stages/a.lock",
        ".dvc/config",
        ".git/HEAD",
        "pkg/__pycache__/m.pyc",
        "venv/pyvenv.cfg",
        "venv/lib/x.py",
        "dvc.lock",
        "old/dvc.yaml",
        "data/big.csv.dvc",
        "review/dvc.yaml",
        "review/params.defaults.yaml",
    ]
    for relpath in files:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(relpath)

    copy_project(root, tmp_path / "copy", {"data/clean.txt", "model"}, "review/dvc.yaml")

    copied = sorted(
        str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*") if p.is_file()
    )
    expected = ["data/raw.txt", "pipeline.py", "review/dvc.yaml", "review/params.defaults.yaml"]
    assert copied == sorted(expected)


def _report(
    rows: list[Comparison], divergent: tuple[str, ...] = (), ok: bool = True
) -> ValidationReport:
    plan = ExportPlan("dvc.yaml", "params.defaults.yaml", ("a", "b"), "", None)
    runs = (
        ToolRun("fastpipe", "fastpipe run", True, 1.0, ""),
        ToolRun("dvc", "dvc repro", ok, 2.0, "boom"),
    )
    return ValidationReport(ExportResult(plan, ("dvc.yaml",)), runs, tuple(rows), divergent)


def test_table_of_identical_outputs() -> None:
    checked = _report([Comparison("a", "out/a.txt", "0" * 32, "0" * 32)])

    lines = report.validation_table(checked).splitlines()

    assert checked.ok
    assert lines[0].split() == ["stage", "path", "fastpipe", "hash", "dvc", "hash", "result"]
    assert lines[1].split() == ["a", "out/a.txt", "0" * 16, "0" * 16, "same"]
    assert lines[-1] == "all 1 outputs identical: dvc repro reproduces fastpipe run"


def test_table_names_every_differing_path_and_the_stage_that_diverged() -> None:
    rows = [
        Comparison("a", "a.txt", "1" * 32, "2" * 32),
        Comparison("b", "b.txt", "3" * 32, None),
        Comparison("b", "c.txt", "4" * 32, "4" * 32),
    ]
    checked = _report(rows, divergent=("a",), ok=False)

    text = report.validation_table(checked)

    assert not checked.ok
    assert "b.txt  " in text and "missing" in text
    assert "2 of 3 outputs differ: a.txt, b.txt" in text
    assert "failed: dvc repro" in text
    assert "stage 'a' produced different outputs from identical deps" in text

"""`fastpipe export --validate` with the real dvc: identical, nondeterministic, failing."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import MakeProject
from tests.integration.dvcproject import FILES, OUTPUTS, requires_dvc
from tests.integration.project import Result, fastpipe

pytestmark = requires_dvc


def _validate(make_project: MakeProject, files: dict[str, str], *args: str) -> Result:
    project = make_project(files)
    return fastpipe("export", "--validate", *args, cwd=project.root, timeout=300)


def _rows(result: Result) -> dict[str, list[str]]:
    """Table rows by path: [stage, fastpipe hash, dvc hash, result]."""
    rows: dict[str, list[str]] = {}
    for line in result.out.splitlines()[1:]:
        cells = line.split()
        if len(cells) == 5:
            rows[cells[1]] = [cells[0], *cells[2:]]
    return rows


def test_a_deterministic_pipeline_validates(make_project: MakeProject, tmp_path: Path) -> None:
    # Exported into a subdirectory: DVC runs it there with `wdir: ..`.
    result = _validate(make_project, FILES, "-o", "review/")

    assert result.code == 0, result
    assert (tmp_path / "project" / "review" / "dvc.yaml").is_file()
    rows = _rows(result)
    assert set(rows) == set(OUTPUTS)
    assert all(row[3] == "same" and row[1] == row[2] for row in rows.values()), result.out
    assert result.out.splitlines()[-1].startswith(f"all {len(OUTPUTS)} outputs identical")
    assert "validate: running `fastpipe run` and `dvc repro` side by side" in result.err


NOISY = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(outs=["noise.txt"])
def noise() -> None:
    Path("noise.txt").write_text(os.urandom(8).hex() + "\\n")


@stage(deps=["noise.txt"], outs=["echo.txt"])
def echo() -> None:
    Path("echo.txt").write_text(Path("noise.txt").read_text())


@stage(outs=["steady.txt"])
def steady() -> None:
    Path("steady.txt").write_text("the same every time\\n")
"""


def test_a_nondeterministic_stage_fails_validation_and_is_named(
    make_project: MakeProject,
) -> None:
    result = _validate(make_project, {"pipeline.py": NOISY})

    assert result.code == 1, result
    rows = _rows(result)
    assert rows["noise.txt"][3] == "DIFFERENT"
    assert rows["echo.txt"][3] == "DIFFERENT"
    assert rows["steady.txt"][3] == "same"
    assert "2 of 3 outputs differ: noise.txt, echo.txt" in result.out
    assert "stage 'noise' produced different outputs from identical deps" in result.out
    assert "stage 'echo'" not in result.out  # its deps already differed


FAILING = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["out.txt"])
def broken() -> None:
    raise RuntimeError("this stage always fails")
"""


def test_a_failing_run_fails_validation_with_its_output_on_stderr(
    make_project: MakeProject,
) -> None:
    result = _validate(make_project, {"pipeline.py": FAILING})

    assert result.code == 1, result
    assert "fastpipe: `fastpipe run` failed:" in result.err
    assert "fastpipe: `dvc repro` failed:" in result.err
    assert result.err.count("RuntimeError: this stage always fails") >= 2
    assert "failed: fastpipe run, dvc repro" in result.out

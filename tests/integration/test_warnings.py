"""Each warning is printed once per command, and only when it applies."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import BASE_FILES, ERROR_PREFIX

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


def _backdate(root: Path) -> None:
    """Every file older than the racy window, so that a snapshot of the project is trusted."""
    for path in root.rglob("*"):
        os.utime(path, (time.time() - 30, time.time() - 30))


def test_a_malformed_lock_is_reported_once_per_command(make_project: MakeProject) -> None:
    project = make_project(BASE_FILES)
    _backdate(project.root)
    project.ok("run")
    project.clear_runs()
    lock = project.path(".fastpipe/stages/featurize.lock")
    lock.write_text("code: [unclosed\n")
    os.utime(lock, (time.time() - 30, time.time() - 30))  # not racy: the snapshot is trusted

    status = project.ok("status")  # remembers the pipeline: `run` tries the fast path first
    ran = project.ok("run", "--no-run-cache")  # else the run cache restores featurize

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


LAZY_GPU = {
    "pipeline.py": """\
        from pathlib import Path

        from fastpipe import stage

        with open("imports.log", "a") as log:
            log.write("imported\\n")


        @stage(outs=["a.txt"])
        def a() -> None:
            try:
                import gpumod  # needs a library only the GPU machines have
            except ImportError:
                value = 0
            else:
                value = gpumod.compute(1)
            Path("a.txt").write_text(f"{value}\\n")
        """,
    "gpumod.py": """\
        import not_installed_gpu_library


        def compute(x):
            return x + 1
        """,
}
FAILED_IMPORT = "project module 'gpumod' could not be imported while fingerprinting"


def test_project_code_that_fails_to_import_is_reported_on_every_path(
    make_project: MakeProject,
) -> None:
    project = make_project(LAZY_GPU)
    _backdate(project.root)

    ran = project.ok("run")
    imports = project.read("imports.log")
    from_snapshot = project.ok("status")
    served_by_the_snapshot = project.read("imports.log") == imports  # no import of pipeline.py
    project.edit("gpumod.py", "x + 1", "x + 2")
    edited = project.stale()

    for result in (ran, from_snapshot):
        assert len(_warnings(result.err_lines, FAILED_IMPORT)) == 1, result.err
        assert "ModuleNotFoundError" in result.err and "stage 'a'" in result.err
    assert served_by_the_snapshot
    assert edited["a"]["code"]["items"] == ["module gpumod"], edited


def test_a_preload_failure_is_reported_once_the_pipeline_loaded(make_project: MakeProject) -> None:
    project = make_project(
        {
            "pyproject.toml": '[tool.fastpipe]\npreload = ["not_installed_preload_lib"]\n',
            "pipeline.py": ENVIRONMENT.replace('os.environ.get("HOME", "")', '"a"'),
        }
    )

    ran = project.ok("run")

    found = _warnings(ran.err_lines, "could not preload 'not_installed_preload_lib'")
    assert len(found) == 1, ran.err

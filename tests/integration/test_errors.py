"""Bad input exits 2 with exactly one `fastpipe: error: ...` line on stderr and no traceback."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import BASE_FILES, ERROR_PREFIX, Project, Result, fastpipe


def _pipeline(body: str) -> dict[str, str]:
    return {"pipeline.py": "from fastpipe import stage\n\n" + textwrap.dedent(body)}


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """Exit 2, stderr is exactly one error line (no traceback) holding every fragment."""
    assert result.code == 2, result
    assert result.err_lines and result.err_lines[0].startswith(ERROR_PREFIX), result
    assert len(result.err_lines) == 1, result
    for fragment in fragments:
        assert fragment in result.err, (fragment, result)
    return result.err_lines[0]


CYCLE = """\
@stage(deps=["c.txt"], outs=["a.txt"])
def alpha() -> None: ...


@stage(deps=["a.txt"], outs=["b.txt"])
def beta() -> None: ...


@stage(deps=["b.txt"], outs=["c.txt"])
def gamma() -> None: ...
"""

TWO_OUTPUT_A = """\
@stage(outs=["a.txt"])
def alpha() -> None: ...


@stage(outs=["a.txt"])
def beta() -> None: ...
"""

TWO_NAMED_SAME = """\
@stage(name="same", outs=["a.txt"])
def alpha() -> None: ...


@stage(name="same", outs=["b.txt"])
def beta() -> None: ...
"""

OVERLAP = """\
@stage(outs=["eval"], metrics=["eval/metrics.json"])
def evaluate() -> None: ...
"""

CASES: dict[str, tuple[dict[str, str], list[str], list[str]]] = {
    # id: (files on top of the shared pipeline, arguments, fragments of the error line)
    "unknown-stage": ({}, ["run", "trian"], ["'trian'", "did you mean", "'train'"]),
    "params-unknown-param": (
        {"params.yaml": "train:\n  learning_rate: 0.5\n"},
        ["status"],
        ["params.yaml", "train", "learning_rate"],
    ),
    "params-unknown-stage": (
        {"params.yaml": "trian:\n  lr: 0.5\n"},
        ["run"],
        ["params.yaml", "'trian'"],
    ),
    "params-bad-type": ({"params.yaml": "train:\n  epochs: 2.5\n"}, ["run"], ["epochs", "2.5"]),
    "set-bad-type": ({}, ["run", "--set", "train.epochs=two"], ["train.epochs", "two"]),
    "set-bad-syntax": ({}, ["run", "--set", "train.epochs"], ["train.epochs", "STAGE.PARAM"]),
    "duplicate-out": (_pipeline(TWO_OUTPUT_A), ["run"], ["'alpha'", "'beta'", "a.txt"]),
    "duplicate-stage-name": (_pipeline(TWO_NAMED_SAME), ["list"], ["'same'"]),
    "overlapping-outs-of-one-stage": (
        _pipeline(OVERLAP),
        ["export", "--validate"],  # refused before DVC is run: no `validate:` lines
        ["stage 'evaluate'", "metric 'eval/metrics.json'", "out 'eval'", "overlapping"],
    ),
    "missing-dep": (
        _pipeline('@stage(deps=["data/nothere.csv"], outs=["a.txt"])\ndef alpha() -> None: ...\n'),
        ["run"],
        ["'alpha'", "data/nothere.csv"],
    ),
    "out-outside-root": (
        _pipeline('@stage(outs=["../escape.txt"])\ndef alpha() -> None: ...\n'),
        ["run"],
        ["'alpha'", "../escape.txt", "outside"],
    ),
    "param-without-default": (
        _pipeline("@stage()\ndef alpha(size) -> None: ...\n"),
        ["status"],
        ["'alpha'", "size", "default"],
    ),
    "unknown-executor": ({}, ["run", "--executor", "warpdrive"], ["warpdrive"]),
    "unknown-option": ({}, ["run", "--bogus"], ["--bogus"]),
}
OLD_PYTHON = pytest.mark.skipif(sys.version_info >= (3, 14), reason="needs Python < 3.14")
PARAMS = [
    *(pytest.param(*case, id=name) for name, case in CASES.items()),
    pytest.param(
        {}, ["run", "--executor", "interpreter"], ["interpreter", "3.14"], marks=OLD_PYTHON,
        id="executor-unavailable-here",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("files", "args", "fragments"), PARAMS)
def test_bad_input_exits_2_with_one_line(
    make_project: MakeProject, files: dict[str, str], args: list[str], fragments: list[str]
) -> None:
    project = make_project({**BASE_FILES, **files})

    result = project.run(*args)

    assert_one_error_line(result, *fragments)
    assert result.out == ""
    assert not project.exists("runs.log")


def test_cycle_message_shows_the_cycle(make_project: MakeProject) -> None:
    project = make_project(_pipeline(CYCLE))

    line = assert_one_error_line(project.run("status"), "cycle").replace("→", "->")

    rotations = ["alpha -> beta -> gamma", "beta -> gamma -> alpha", "gamma -> alpha -> beta"]
    assert any(cycle in line for cycle in rotations), line


def test_lock_of_a_newer_schema(project: Project) -> None:
    path = project.lock_path("train")
    text = path.read_text()
    assert "schema: 2\n" in text, text
    path.write_text(text.replace("schema: 2\n", "schema: 999\n"))

    result = project.run("status")

    assert "upgrade" in assert_one_error_line(result, "train.lock")


def test_no_project_found(tmp_path: Path) -> None:
    result = fastpipe("status", cwd=tmp_path)

    assert_one_error_line(result, "no fastpipe project")


def test_pipeline_import_error(make_project: MakeProject) -> None:
    project = make_project(
        {
            "pipeline.py": """\
                from fastpipe import stage


                def load_settings() -> None:
                    raise RuntimeError("settings file is corrupt")


                load_settings()
                """
        }
    )

    result = project.run("status")

    assert result.code == 2, result
    assert result.err_lines[-1].startswith(ERROR_PREFIX), result
    assert "settings file is corrupt" in result.err_lines[-1]
    assert "load_settings" in result.err  # the user's traceback
    assert sum(line.startswith(ERROR_PREFIX) for line in result.err_lines) == 1


def test_pipeline_import_error_shows_only_user_frames(make_project: MakeProject) -> None:
    project = make_project(_pipeline("import helpers_that_do_not_exist\n"))

    result = project.run("status")

    assert result.code == 2, result
    assert "helpers_that_do_not_exist" in result.err_lines[-1]
    assert "fastpipe/" not in result.err and "importlib" not in result.err, result.err


def test_a_syntax_error_in_a_helper_shows_where_not_the_import_machinery(
    make_project: MakeProject,
) -> None:
    files = _pipeline("import helpers\n")
    files["helpers.py"] = "def scale(x):\n    return 1.0 + / x\n"
    project = make_project(files)

    result = project.run("status")

    assert result.code == 2, result
    assert result.err_lines[-1].startswith(ERROR_PREFIX), result
    assert "helpers.py" in result.err_lines[-1] and "line 2" in result.err_lines[-1], result
    assert "Traceback" not in result.err, result.err  # the file, line and caret say it all
    assert "return 1.0 + / x" in result.err, result.err
    assert "importlib" not in result.err and "fastpipe/" not in result.err, result.err


def test_an_error_raised_in_a_helper_shows_only_user_frames(make_project: MakeProject) -> None:
    files = _pipeline("import helpers\n")
    files["helpers.py"] = (
        "def fail():\n"
        "    try:\n"
        "        {}['column']\n"
        "    except KeyError as exc:\n"
        "        raise ValueError('bad table') from exc\n"
        "\n"
        "fail()\n"
    )
    project = make_project(files)

    result = project.run("status")

    assert result.code == 2, result
    assert "bad table" in result.err_lines[-1], result
    assert 'pipeline.py", line 3' in result.err and 'helpers.py", line 5' in result.err, result
    assert "KeyError: 'column'" in result.err and "direct cause" in result.err, result.err
    assert "importlib" not in result.err and "fastpipe/" not in result.err, result.err


def test_verbose_shows_fastpipe_traceback(project: Project) -> None:
    result = project.run("--verbose", "run", "trian")

    assert result.code == 2, result
    assert "Traceback" in result.err
    assert result.err_lines[-1].startswith(ERROR_PREFIX + "unknown stage 'trian'"), result

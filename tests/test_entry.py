"""The entry point: which command lines it runs itself, and that they behave as typer's do."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from fastpipe.entry import Globals, Quick, parse
from tests.integration.project import python_code


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status"], Quick(Globals(Path("."), False), "status", ())),
        (
            ["-v", "status", "train", "--json", "--check"],
            Quick(Globals(Path("."), True), "status", ("train",), frozenset({"as_json", "check"})),
        ),
        (
            ["-C", "proj", "run", "-q", "a", "b", "--downstream"],
            Quick(
                Globals(Path("proj"), False), "run", ("a", "b"), frozenset({"quiet", "downstream"})
            ),
        ),
        (["run", "--verbose"], Quick(Globals(Path("."), True), "run", ())),
        (["run", "-j", "2"], Quick(Globals(Path("."), False), "run", (), jobs=2)),
        (
            ["run", "a", "--jobs", "12", "-q"],
            Quick(Globals(Path("."), False), "run", ("a",), frozenset({"quiet"}), 12),
        ),
    ],
)
def test_the_common_forms_are_parsed_here(args: list[str], expected: Quick) -> None:
    assert parse(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["status", "--help"],
        ["status", "-h"],
        ["run", "-j"],  # typer says what is missing
        ["run", "-j", "0"],
        ["run", "-j", "two"],
        ["run", "-j", "-q"],
        ["run", "-j2"],
        ["status", "-j", "2"],  # a run option
        ["run", "--force"],
        ["run", "--watch"],
        ["run", "--jobs=2"],
        ["status", "--", "x"],
        ["status", ""],
        ["-C"],
        ["-C", "--json", "status"],
        ["--directory=x", "status"],
        ["status", "-C", "x"],
        ["run", "--check"],  # a status flag
        ["status", "-q"],  # a run flag
        ["explain", "train"],
        ["list"],
    ],
)
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert parse(args) is None


PIPELINE = """
from pathlib import Path
from fastpipe import stage

@stage(outs=["a.txt"])
def a() -> None:
    Path("a.txt").write_text("a")

@stage(deps=["a.txt"], outs=["b.txt"])
def b() -> None:
    Path("b.txt").write_text(Path("a.txt").read_text() * 2)
"""


def _cli(root: Path, module: str, *args: str) -> tuple[int, str, str]:
    code = f"import sys\nfrom {module} import main\nmain(sys.argv[1:])\n"
    done = python_code(code, *args, cwd=root)
    return done.code, done.out, done.err


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("status", "--check"),
        ("status", "b", "--downstream"),
        ("status", "nosuch"),
        ("run", "-q"),
        ("run", "--json"),
        ("run", "-j", "1"),
        ("-v", "status"),
    ],
)
def test_quick_commands_print_and_exit_as_typer_does(tmp_path: Path, args: tuple[str, ...]) -> None:
    said: list[tuple[int, str, str]] = []
    for module in ("fastpipe.cli", "fastpipe.entry"):  # the same project, twice
        root = tmp_path / module
        root.mkdir()
        (root / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
        assert _cli(root, "fastpipe.cli", "run", "-q", "a")[0] == 0  # b stays stale
        code, out, err = _cli(root, module, *args)
        said.append((code, _timeless(out), _timeless(err)))
    assert said[1] == said[0]


def _timeless(text: str) -> str:
    """Durations and clock times, which differ from one run to the next, as N."""
    return re.sub(r"\d+\.\d+", "N", text)


def test_no_project_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    code, out, err = _cli(tmp_path, "fastpipe.entry", "status")
    assert (code, out) == (2, "")
    assert err.startswith("fastpipe: error: no fastpipe project in ")
    assert len(err.splitlines()) == 1


def test_a_quick_status_does_not_import_typer(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('typer' in sys.modules, file=sys.stderr))\n"
        "from fastpipe.entry import main\nmain(sys.argv[1:])\n"
    )
    for args in (["status"], ["--help"]):
        done = python_code(probe, *args, cwd=tmp_path)
        assert done.code == 0, done.err
        assert done.err.strip().splitlines()[-1] == ("True" if args == ["--help"] else "False")

"""Tests for fastpipe.watch: which changes matter, and which fingerprints a cycle reuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastpipe.context import open_context
from fastpipe.results import Outcome
from fastpipe.watch import _Cycles, _reuse_fingerprints, _state_of, relevant

PIPELINE = """\
from pathlib import Path

import helpers
from fastpipe import stage


@stage(deps=["in.txt", "raw"], outs=["a.txt", "cache"])
def a() -> None:
    Path("a.txt").write_text(helpers.fa())


@stage(outs=["b.txt"])
def b() -> None:
    Path("b.txt").write_text("b")
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "helpers.py").write_text("def fa() -> str:\n    return 'a'\n")
    return tmp_path


def test_only_code_params_and_deps_matter_never_outputs_or_state(tmp_path: Path) -> None:
    ctx = open_context(project(tmp_path), listener=lambda _e: None)
    state = _state_of(ctx)
    changed = relevant(
        [
            "helpers.py",
            "pkg/mod.py",
            "params.yaml",
            "pyproject.toml",
            "in.txt",
            "raw/part-1.csv",
            "a.txt",
            "cache/blob.bin",
            "notes.md",
            ".fastpipe/stages/a.lock",
            "__pycache__/helpers.cpython-311.pyc",
            ".git/index",
            "../elsewhere.py",
        ],
        state,
    )
    assert changed == (
        "helpers.py",
        "in.txt",
        "params.yaml",
        "pkg/mod.py",
        "pyproject.toml",
        "raw/part-1.csv",
    )


def test_a_stage_none_of_whose_files_changed_keeps_its_manifest(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = _state_of(open_context(root, listener=lambda _e: None))
    assert "helpers.py" in before.manifests["a"].files
    assert "helpers.py" not in before.manifests["b"].files

    after = open_context(root, listener=lambda _e: None)
    _reuse_fingerprints(after, before, ["helpers.py"])
    assert after.manifest("b") is before.manifests["b"]  # reused, not computed again
    assert after.manifest("a") is not before.manifests["a"]


def test_a_pipeline_edit_fingerprints_every_stage_again(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = _state_of(open_context(root, listener=lambda _e: None))
    after = open_context(root, listener=lambda _e: None)
    _reuse_fingerprints(after, before, ["pipeline.py"])
    assert after.manifest("b") is not before.manifests["b"]


def test_changes_during_a_broken_spell_are_not_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Broken helper2, then an edit of helpers, then the fix of helper2 alone: stage `a`
    (which reaches helpers) must be fingerprinted again, not keep its old manifest."""
    from fastpipe.watch import Cycle

    root = project(tmp_path)
    (root / "in.txt").write_text("x")
    (root / "raw").mkdir()
    (root / "helper2.py").write_text("VALUE = 1\n")
    body = 'Path("cache").mkdir(exist_ok=True)\n    Path("a.txt")'
    (root / "pipeline.py").write_text("import helper2\n" + PIPELINE.replace('Path("a.txt")', body))
    seen: list[Cycle] = []
    cycles = _cycles(root, seen)
    monkeypatch.syspath_prepend(str(root))
    cycles.run((), preload=())
    assert seen[-1].result is not None and seen[-1].result.ok
    (root / "helper2.py").write_text("VALUE = (\n")
    cycles.run(("helper2.py",), preload=())
    assert seen[-1].error is not None
    (root / "helpers.py").write_text("def fa() -> str:\n    return 'edited'\n")
    cycles.run(("helpers.py",), preload=())
    assert seen[-1].error is not None
    (root / "helper2.py").write_text("VALUE = 2\n")
    cycles.run(("helper2.py",), preload=())
    last = seen[-1]
    assert last.result is not None and last.result.names(Outcome.RAN) == ["a"]
    assert (root / "a.txt").read_text() == "edited"


def _cycles(root: Path, seen: list[Any]) -> _Cycles:
    """The cycles of a watch on `root`, inline, each cycle appended to `seen`."""
    from fastpipe import discovery
    from fastpipe.executors.inline import InlineExecutor
    from fastpipe.runner import RunOptions

    return _Cycles(
        discovery.load_project(root),
        (),
        False,
        RunOptions(executor="inline"),
        InlineExecutor(),
        lambda _event: None,
        seen.append,
    )


def test_a_cycle_imports_the_pipeline_without_the_import_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import watch (audit + profile hooks) serves only the snapshot, which a watch cycle
    never writes: the cycle's import runs without its profile hook; a plain load has it."""
    root = project(tmp_path)
    probe = 'import sys\nPath("hooked.txt").write_text(str(sys.getprofile() is not None))\n'
    (root / "pipeline.py").write_text(
        PIPELINE.replace("import helpers\n", "import helpers\n" + probe)
    )
    (root / "in.txt").write_text("x")
    (root / "raw").mkdir()
    open_context(root, listener=lambda _e: None)
    assert (root / "hooked.txt").read_text() == "True"
    seen: list[object] = []
    cycles = _cycles(root, seen)
    monkeypatch.syspath_prepend(str(root))
    cycles.run((), preload=())
    assert (root / "hooked.txt").read_text() == "False"

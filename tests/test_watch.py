"""Tests for fastpipe.watch: which changes matter, and which fingerprints a cycle reuses."""

from __future__ import annotations

from pathlib import Path

from fastpipe.context import open_context
from fastpipe.watch import _reuse_fingerprints, _state_of, relevant

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

"""examples/textclf end to end, on a copy: first run, no-op rerun, a helper edit."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.integration.project import Project

pytest.importorskip("sklearn", reason="examples/textclf needs scikit-learn (the dev extra)")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "textclf"
STAGES = ("prepare", "featurize", "train", "evaluate")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("textclf") / "textclf"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".fastpipe", "__pycache__"))
    return root, Project(root).ok("run").out


@pytest.fixture
def textclf(ran: tuple[Path, str], tmp_path: Path) -> Project:
    shutil.copytree(ran[0], tmp_path / "textclf", symlinks=True)
    return Project(tmp_path / "textclf")


def _rewritten(before: dict[str, tuple[int, int, bytes]], project: Project) -> set[str]:
    after = project.lock_stats()
    return {name.removesuffix(".lock") for name in after if after[name] != before.get(name)}


def test_first_run_writes_metrics_and_plot_data(ran: tuple[Path, str], textclf: Project) -> None:
    assert re.search(rf"\b{len(STAGES)} ran\b", ran[1]), ran[1]
    metrics = json.loads(textclf.read("eval/metrics.json"))
    assert 0.6 < metrics["accuracy"] <= 1.0
    assert metrics["test_docs"] == 300
    confusion = textclf.read("eval/plots/confusion.csv").splitlines()
    assert confusion[0] == "actual,predicted,count"
    assert len(confusion) == 1 + 3 * 3
    assert sum(int(line.rsplit(",", 1)[1]) for line in confusion[1:]) == 300
    assert textclf.read("eval/plots/per_class.csv").startswith("label,precision,recall\n")


def test_second_run_runs_nothing(textclf: Project) -> None:
    before = textclf.lock_stats()
    assert re.search(r"\b0 ran\b", textclf.ok("run").out)
    assert _rewritten(before, textclf) == set()


def test_a_vectorizer_helper_edit_reruns_featurize_and_below(textclf: Project) -> None:
    textclf.edit("helpers.py", "sublinear_tf=True", "sublinear_tf=False")
    before = textclf.lock_stats()
    textclf.ok("run")
    assert _rewritten(before, textclf) == {"featurize", "train", "evaluate"}

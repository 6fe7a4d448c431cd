"""examples/quickstart end to end, on a copy: first run, no-op reruns, a helper edit."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.integration.project import Project

QUICKSTART_STAGES = ("generate", "clean", "featurize", "train", "evaluate")


def _rewritten(before: dict[str, tuple[int, int, bytes]], project: Project) -> set[str]:
    after = project.lock_stats()
    return {name.removesuffix(".lock") for name in after if after[name] != before.get(name)}


def test_first_run_writes_metrics(
    quickstart_template: tuple[Path, str, int], quickstart: Project
) -> None:
    _, out, code = quickstart_template

    assert code == 0
    assert re.search(rf"\b{len(QUICKSTART_STAGES)} ran\b", out), out
    metrics = json.loads(quickstart.read("metrics.json"))
    assert 0.5 < metrics["accuracy"] <= 1.0
    assert sorted(quickstart.locks()) == sorted(f"{s}.lock" for s in QUICKSTART_STAGES)


def test_second_run_runs_nothing(quickstart: Project) -> None:
    before = quickstart.lock_stats()

    result = quickstart.ok("run")

    assert re.search(r"\b0 ran\b", result.out), result.out
    assert _rewritten(before, quickstart) == set()


def test_comment_in_helpers_reruns_nothing(quickstart: Project) -> None:
    quickstart.append("helpers.py", "\n# a note for readers; no code changes\n")
    before = quickstart.lock_stats()

    result = quickstart.ok("run")

    assert re.search(r"\b0 ran\b", result.out), result.out
    assert _rewritten(before, quickstart) == set()


def test_editing_sigmoid_reruns_train_and_evaluate(quickstart: Project) -> None:
    quickstart.edit(
        "helpers.py",
        "np.clip(t, -30.0, 30.0)",
        "np.clip(t, -25.0, 25.0)",
    )
    before = quickstart.lock_stats()

    explained = quickstart.ok("explain", "train")
    result = quickstart.ok("run")

    assert "helpers.sigmoid" in explained.out, explained.out
    assert re.search(r"\b2 ran\b", result.out), result.out
    assert _rewritten(before, quickstart) == {"train", "evaluate"}

"""Matrix stages end to end: variants by name, base name and glob; params; errors (guide.md)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import ERROR_PREFIX, Project

PIPELINE = """\
import json
from pathlib import Path

from fastpipe import stage


@stage(outs=["data/0.csv", "data/1.csv"])
def split() -> None:
    Path("data").mkdir(exist_ok=True)
    for fold in (0, 1):
        Path(f"data/{fold}.csv").write_text(f"fold {fold}\\n")


@stage(
    matrix={"model": ["cnn", "xgb"], "fold": [0, 1]},
    deps=["data/{fold}.csv"],
    outs=["models/{model}-{fold}.txt"],
)
def train(model: str, fold: int, lr: float = 0.1) -> None:
    with open("runs.log", "a") as f:
        f.write(f"train@{model}-{fold}\\n")
    Path("models").mkdir(exist_ok=True)
    data = Path(f"data/{fold}.csv").read_text().strip()
    Path(f"models/{model}-{fold}.txt").write_text(f"{model} {fold} {lr} {data}\\n")


@stage(deps=["models/cnn-0.txt", "models/xgb-1.txt"], outs=["summary.txt"])
def summarize() -> None:
    text = Path("models/cnn-0.txt").read_text() + Path("models/xgb-1.txt").read_text()
    Path("summary.txt").write_text(text)
"""

VARIANTS = ["train@cnn-0", "train@cnn-1", "train@xgb-0", "train@xgb-1"]


@pytest.fixture
def matrix(make_project: MakeProject) -> Project:
    return make_project({"pipeline.py": PIPELINE})


def test_every_variant_runs_with_its_values_and_its_own_lock(matrix: Project) -> None:
    matrix.ok("run")
    assert sorted(matrix.runs()) == VARIANTS
    assert matrix.read("models/xgb-1.txt") == "xgb 1 0.1 fold 1\n"
    for name in VARIANTS:
        lock = matrix.lock(name)
        assert lock["stage"] == name
        model, fold = name.split("@")[1].split("-")
        assert lock["params"] == {"model": model, "fold": int(fold), "lr": 0.1}
        assert list(lock["deps"]) == [f"data/{fold}.csv"]
        assert list(lock["outs"]) == [f"models/{model}-{fold}.txt"]
    statuses = matrix.status()
    assert all(entry["status"] == "fresh" for entry in statuses.values())
    assert set(VARIANTS) <= set(statuses)


def test_params_yaml_sets_every_variant_then_one_variant_wins(matrix: Project) -> None:
    matrix.ok("run")
    matrix.clear_runs()
    matrix.write("params.yaml", "train:\n  lr: 0.5\ntrain@cnn-1:\n  lr: 0.9\n")
    stale = matrix.stale()
    assert set(VARIANTS) <= set(stale)
    assert all("params" in stale[name] for name in VARIANTS)
    matrix.ok("run")
    assert matrix.read("models/cnn-0.txt").split()[2] == "0.5"
    assert matrix.read("models/cnn-1.txt").split()[2] == "0.9"
    assert matrix.lock("train@xgb-0")["params"]["lr"] == 0.5


def test_a_matrix_key_cannot_be_set_from_params_yaml(matrix: Project) -> None:
    matrix.write("params.yaml", "train:\n  model: rnn\n")
    result = matrix.run("status")
    assert result.code == 2
    assert result.err.startswith(ERROR_PREFIX)
    assert "param 'model' of stage 'train' is a matrix key" in result.err


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["train@xgb-1"], ["train@xgb-1"]),
        (["train"], VARIANTS),
        (["train@cnn-*"], ["train@cnn-0", "train@cnn-1"]),
        (["train@*-0", "train@xgb-1"], ["train@cnn-0", "train@xgb-0", "train@xgb-1"]),
    ],
)
def test_targets_take_a_variant_the_base_name_and_globs(
    matrix: Project, targets: list[str], expected: list[str]
) -> None:
    matrix.ok("run", *targets)
    assert sorted(matrix.runs()) == expected
    assert not matrix.exists("summary.txt")


def test_targets_expand_on_the_snapshot_fast_path_too(matrix: Project) -> None:
    matrix.ok("run")
    matrix.ok("status")  # leaves a trusted snapshot
    assert set(matrix.status("train@cnn-*")) == {"split", "train@cnn-0", "train@cnn-1"}
    assert set(matrix.status("train")) == {"split", *VARIANTS}
    missing = matrix.run("status", "train@rnn-*")
    assert missing.code == 2 and "unknown stage 'train@rnn-*'" in missing.err


def test_explain_and_status_are_per_variant(matrix: Project) -> None:
    matrix.ok("run")
    matrix.write("params.yaml", "train@xgb-1:\n  lr: 0.3\n")
    stale = matrix.stale()
    assert set(stale) == {"train@xgb-1", "summarize"}
    assert "params" in stale["train@xgb-1"]
    explained = matrix.ok("explain", "train@xgb-1")
    assert "lr" in explained.out and "0.3" in explained.out
    several = matrix.run("explain", "train")
    assert several.code == 2 and "'train' names several stages" in several.err


def test_dag_groups_the_variants(matrix: Project) -> None:
    out = matrix.ok("dag").out
    assert "train@{cnn-0,cnn-1,xgb-0,xgb-1}" in out
    assert "train@cnn-0" not in out


ERRORS = {
    "a key that is not a parameter": (
        '@stage(matrix={"model": ["a"]}, outs=["{model}.txt"])\ndef train() -> None: ...\n',
        "matrix key 'model' is not a parameter of the function",
    ),
    "a placeholder that is no key": (
        '@stage(matrix={"model": ["a"]}, outs=["{fold}.txt"])\n'
        "def train(model: str) -> None: ...\n",
        "uses {fold}, which is no matrix key",
    ),
    "two variants with one out": (
        '@stage(matrix={"model": ["a", "b"]}, outs=["out.txt"])\n'
        "def train(model: str) -> None: ...\n",
        "variants 'train@a' and 'train@b' both write 'out.txt'",
    ),
    "an empty matrix": (
        "@stage(matrix={})\ndef train() -> None: ...\n",
        "matrix must be a non-empty dict",
    ),
    "an empty value list": (
        '@stage(matrix={"model": []})\ndef train(model: str) -> None: ...\n',
        "matrix key 'model' must list one value or more",
    ),
    "a value that is not a scalar": (
        '@stage(matrix={"model": [["a"]]})\ndef train(model: str) -> None: ...\n',
        "is not a YAML scalar",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_collection_errors_are_one_line_and_exit_2(make_project: MakeProject, case: str) -> None:
    source, message = ERRORS[case]
    project = make_project({"pipeline.py": "from fastpipe import stage\n\n" + source})
    result = project.run("status")
    assert result.code == 2, result
    assert len(result.err_lines) == 1, result.err
    assert result.err.startswith(ERROR_PREFIX)
    assert message in result.err

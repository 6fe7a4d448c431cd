"""Tests for fastpipe.matrix and @stage(matrix=...): validation and expansion into variants."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from fastpipe import discovery
from fastpipe.errors import StageDefinitionError
from fastpipe.matrix import expand, value_text
from fastpipe.stage import Out, Plot, spec_of, stage


def train(model: str, fold: int, lr: float = 0.1) -> None: ...


def declared(**kwargs: object) -> object:
    def train(model: str = "m", fold: int = 0) -> None: ...

    return stage(**kwargs)(train)  # pyright: ignore[reportArgumentType]


def test_variants_are_named_by_values_in_declaration_order_with_paths_filled() -> None:
    func = stage(
        matrix={"model": ["cnn", "xgb"], "fold": [0, 1]},
        deps=["data/{fold}.csv", "shared.txt"],
        outs=[Out("models/{model}-{fold}.pkl", cache=False)],
        metrics=["metrics/{model}/{fold}.json"],
        plots=[Plot("plots/{model}-{fold}.csv", x="epoch")],
        fingerprint=["configs/{model}.yaml"],
    )(train)
    spec = spec_of(func)
    assert spec is not None
    variants = expand(spec)
    assert [v.name for v in variants] == [
        "train@cnn-0",
        "train@cnn-1",
        "train@xgb-0",
        "train@xgb-1",
    ]
    third = variants[2]
    assert third.base == "train" and dict(third.variant) == {"model": "xgb", "fold": 0}
    assert third.deps == ("data/0.csv", "shared.txt")
    assert third.outs == ("models/xgb-0.pkl",)
    assert third.metrics == ("metrics/xgb/0.json",)
    assert third.plots == ("plots/xgb-0.csv",)
    assert third.plot_specs[0].path == "plots/xgb-0.csv" and third.plot_specs[0].x == "epoch"
    assert third.cached == ()  # the out says cache=False; metrics and plots are not cached
    assert not third.is_cached("models/xgb-0.pkl")
    assert third.fingerprint == ("configs/xgb.yaml",)
    assert third.param_defaults == {"model": "xgb", "fold": 0, "lr": 0.1}


def test_booleans_read_as_yaml_writes_them() -> None:
    assert value_text(True) == "true" and value_text(0.5) == "0.5" and value_text(3) == "3"


def test_a_matrix_key_needs_no_default_but_other_params_do() -> None:
    def bad(model: str, lr: float) -> None: ...

    with pytest.raises(StageDefinitionError, match="param 'lr' has no default"):
        stage(matrix={"model": ["a"]}, outs=["{model}"])(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matrix": {"size": [1]}}, "matrix key 'size' is not a parameter of the function"),
        ({"matrix": {}}, "matrix must be a non-empty dict"),
        ({"matrix": ["model"]}, "matrix must be a non-empty dict"),
        ({"matrix": {"model": []}}, "matrix key 'model' must list one value or more"),
        ({"matrix": {"model": "cnn"}}, "matrix key 'model' must list one value or more"),
        ({"matrix": {"model": [None]}}, "is not a YAML scalar"),
        ({"matrix": {"model": [{"a": 1}]}}, "is not a YAML scalar"),
        ({"matrix": {"model": ["a b"]}}, "cannot be part of a stage name"),
        ({"matrix": {"model": ["a", "a"]}}, "lists 'a' twice"),
        ({"matrix": {"model": ["a"]}, "outs": ["{fold}.pkl"]}, "uses {fold}, which is no"),
        ({"matrix": {"model": ["a"]}, "deps": ["{}.csv"]}, "uses {}, which is no matrix key"),
    ],
)
def test_declaration_errors_name_the_stage_and_the_problem(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(StageDefinitionError, match="stage 'train'") as caught:
        declared(**kwargs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_two_variants_writing_one_out_is_an_error() -> None:
    spec = spec_of(stage(matrix={"model": ["a", "b"], "fold": [0]}, outs=["{fold}.pkl"])(train))
    assert spec is not None
    with pytest.raises(StageDefinitionError, match="variants 'train@a-0' and 'train@b-0' both"):
        expand(spec)


def test_collection_expands_one_function_into_its_variants() -> None:
    module = types.ModuleType("pipeline")
    func = stage(matrix={"model": ["a", "b"], "fold": [0]}, outs=["{model}.pkl"])(train)
    module.train = func  # pyright: ignore[reportAttributeAccessIssue]
    stages = discovery.collect_stages(module)
    assert list(stages) == ["train@a-0", "train@b-0"]
    assert all(s.func is func for s in stages.values())


def test_a_plain_stage_named_like_a_matrix_stage_is_an_error() -> None:
    module = types.ModuleType("pipeline")

    def other() -> None: ...

    module.train = stage(matrix={"model": ["a"], "fold": [0]}, outs=["{model}.pkl"])(train)  # pyright: ignore[reportAttributeAccessIssue]
    module.other = stage(name="train", outs=["x"])(other)  # pyright: ignore[reportAttributeAccessIssue]
    with pytest.raises(StageDefinitionError, match="also the name of a matrix stage"):
        discovery.collect_stages(module)


def test_the_function_is_fingerprinted_once_for_all_variants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastpipe.context import open_context
    from fastpipe.fingerprint import Fingerprinter

    (tmp_path / "pipeline.py").write_text(
        "from fastpipe import stage\n\n"
        '@stage(matrix={"model": ["a", "b", "c"]}, outs=["{model}.txt"])\n'
        "def train(model: str) -> None:\n    pass\n\n"
        '@stage(matrix={"model": ["a", "b"]}, outs=["p{model}.txt"], fingerprint=["{model}.cfg"])\n'
        "def pick(model: str) -> None:\n    pass\n"
    )
    for name in ("a", "b"):
        (tmp_path / f"{name}.cfg").write_text(name)
    calls: list[str] = []
    original = Fingerprinter.manifest

    def counting(self: Fingerprinter, func: object, extra: object = ()) -> object:
        calls.append(getattr(func, "__name__", "?"))
        return original(self, func, extra)  # pyright: ignore[reportArgumentType]

    monkeypatch.setattr(Fingerprinter, "manifest", counting)
    ctx = open_context(tmp_path, listener=lambda _event: None)
    manifests = [ctx.manifest(name) for name in ("train@a", "train@b", "train@c")]
    assert calls == ["train"]
    assert manifests[0] is manifests[2]
    picks = [ctx.manifest(name) for name in ("pick@a", "pick@b")]
    assert calls == ["train", "pick", "pick"]  # fingerprint= paths differ per variant
    assert picks[0].items != picks[1].items

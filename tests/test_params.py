"""Tests for fastpipe.params: --set parsing, params.yaml, resolution and type checks."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar, Union

import pytest
import yaml

from fastpipe.errors import ParamsError
from fastpipe.params import (
    Override,
    YamlLoader,
    is_yaml_value,
    load_params_file,
    load_yaml,
    parse_override,
    resolve_params,
)
from fastpipe.stage import ParamSpec, StageSpec, spec_of, stage

T = TypeVar("T")


class Unequal:
    """An annotation object whose == fails, as some library objects' does."""

    def __eq__(self, other: object) -> bool:
        raise TypeError("no comparing")

    __hash__ = object.__hash__


def make_spec(name: str, *params: tuple[str, Any, Any]) -> StageSpec:
    return StageSpec(
        name=name,
        module="m",
        qualname=name,
        params=tuple(ParamSpec(p, default, annotation) for p, default, annotation in params),
    )


def specs_of(*specs: StageSpec) -> dict[str, StageSpec]:
    return {s.name: s for s in specs}


TRAIN = make_spec("train", ("lr", 0.01, float), ("epochs", 10, int), ("name", "m", str))
CLEAN = make_spec("clean", ("threshold", 0.5, float))
SPECS = specs_of(CLEAN, TRAIN)


def resolved_default(annotation: Any, value: Any) -> Any:
    """The value resolve_params gives for a param with default `value` and `annotation`."""
    spec = make_spec("t", ("p", value, annotation))
    return resolve_params({"t": spec}, {}, [])["t"]["p"]


def resolved_override(annotation: Any, default: Any, value: Any) -> Any:
    """The value resolve_params gives for `value` set through --set on a param of `annotation`."""
    spec = make_spec("t", ("p", default, annotation))
    return resolve_params({"t": spec}, {}, [Override("t", "p", value)])["t"]["p"]


# --- parse_override ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.lr=0.1", Override("train", "lr", 0.1)),
        ("train.epochs=3", Override("train", "epochs", 3)),
        ("train.lr=1e-3", Override("train", "lr", 0.001)),
        ("train.lr=1E5", Override("train", "lr", 100000.0)),
        ("train.lr=-2.5e+2", Override("train", "lr", -250.0)),
        ("train.lr=-.5", Override("train", "lr", -0.5)),
        ("train.lr='1e-3'", Override("train", "lr", "1e-3")),
        ("train.v2.lr=0.1", Override("train.v2", "lr", 0.1)),
        ("train@small.lr=0.1", Override("train@small", "lr", 0.1)),
        ("train.layers=[1, 2]", Override("train", "layers", [1, 2])),
        ("train.opts={a: 1}", Override("train", "opts", {"a": 1})),
        ("train.name=a=b", Override("train", "name", "a=b")),
        ("train.flag=true", Override("train", "flag", True)),
        ("train.day=2024-01-01", Override("train", "day", "2024-01-01")),
        ("train.x=null", Override("train", "x", None)),
        ("train.x=", Override("train", "x", None)),
    ],
)
def test_parse_override(text: str, expected: Override) -> None:
    parsed = parse_override(text)
    assert parsed == expected
    assert type(parsed.value) is type(expected.value)


@pytest.mark.parametrize("text", ["lr", "lr=1", "train.lr", ".lr=1", "train.=1", "train.2x=1"])
def test_parse_override_malformed(text: str) -> None:
    message = f"bad --set '{text}': expected STAGE.PARAM=VALUE"
    with pytest.raises(ParamsError, match=f"^{re.escape(message)}$"):
        parse_override(text)


def test_parse_override_bad_yaml_value() -> None:
    with pytest.raises(ParamsError, match=r"^bad --set 'train\.x=\[1,': the value is not valid"):
        parse_override("train.x=[1,")


@pytest.mark.parametrize("text", ["train.x=!!int x", "train.x=!!float x", "train.x=a\x07"])
def test_parse_override_value_yaml_cannot_read(text: str) -> None:
    with pytest.raises(ParamsError, match=r"^bad --set 'train\.x=.*': the value is not valid YAML"):
        parse_override(text)


# --- the YAML loader --------------------------------------------------------------------------


def test_loader_is_safe_and_c_accelerated_when_available() -> None:
    assert issubclass(
        YamlLoader, yaml.SafeLoader if not yaml.__with_libyaml__ else yaml.CSafeLoader
    )
    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['true']")


def test_loader_reads_numbers_like_people_write_them() -> None:
    values = load_yaml("[1e-3, 1E5, 1.5e3, -.5, 1_000e3, .5, 10, 1.0, 0x10, .inf, '1e-3', 1e]")
    assert values == [0.001, 1e5, 1500.0, -0.5, 1e6, 0.5, 10, 1.0, 16, float("inf"), "1e-3", "1e"]
    assert [type(v) for v in values[:6]] == [float] * 6


def test_loader_leaves_the_safe_loader_alone() -> None:
    assert yaml.safe_load("1e-3") == "1e-3"
    assert yaml.safe_load("2024-01-01") != "2024-01-01"


# --- load_params_file -------------------------------------------------------------------------


def test_no_params_file(tmp_path: Path) -> None:
    assert load_params_file(tmp_path) == {}


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n"])
def test_empty_params_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "params.yaml").write_text(text)
    assert load_params_file(tmp_path) == {}


def test_params_file_tables(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        "train:\n  lr: 1e-3\n  layers: [1, 2]\nclean:\n  threshold: 0.7\nempty:\n"
    )
    assert load_params_file(tmp_path) == {
        "train": {"lr": 0.001, "layers": [1, 2]},
        "clean": {"threshold": 0.7},
        "empty": {},
    }


def test_params_file_yaml_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n  layers: [1, 2\nclean: {}\n")
    with pytest.raises(ParamsError, match=r"^params\.yaml: invalid YAML \(.* at line \d+\)"):
        load_params_file(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- train\n- clean\n", "params.yaml: expected a mapping of stage name -> params, got list"),
        ("just text\n", "params.yaml: expected a mapping of stage name -> params, got str"),
        ("train: 0.1\n", "params.yaml: stage 'train' must map param names to values, got float"),
        ("train: [lr]\n", "params.yaml: stage 'train' must map param names to values, got list"),
        ("1: {lr: 1}\n", "params.yaml: top-level key 1 is not a stage name"),
        ("train: {1: 2}\n", "params.yaml: stage 'train' has key 1, which is not a param name"),
    ],
)
def test_params_file_with_a_wrong_shape(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=f"^{re.escape(expected)}"):
        load_params_file(tmp_path)


def test_params_file_with_a_control_character(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train: {name: a\x07}\n")
    with pytest.raises(ParamsError, match=r"^params\.yaml: invalid YAML \(unacceptable character"):
        load_params_file(tmp_path)


def test_params_file_unreadable(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").mkdir()
    with pytest.raises(ParamsError, match=r"^params\.yaml: cannot read it \("):
        load_params_file(tmp_path)


def test_params_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_bytes(b"train: {name: \xff}\n")
    with pytest.raises(ParamsError, match=r"^params\.yaml: cannot read it \("):
        load_params_file(tmp_path)


# --- resolve_params: precedence ---------------------------------------------------------------


def test_defaults_for_every_stage_in_signature_order() -> None:
    resolved = resolve_params(SPECS, {}, [])
    assert resolved == {
        "clean": {"threshold": 0.5},
        "train": {"lr": 0.01, "epochs": 10, "name": "m"},
    }
    assert list(resolved) == ["clean", "train"]
    assert list(resolved["train"]) == ["lr", "epochs", "name"]


def test_params_file_then_set_later_wins() -> None:
    file_values = {"train": {"lr": 0.1, "epochs": 20}}
    overrides = [parse_override("train.lr=0.2"), parse_override("train.lr=0.3")]
    resolved = resolve_params(SPECS, file_values, overrides)
    assert resolved["train"] == {"lr": 0.3, "epochs": 20, "name": "m"}
    assert list(resolved["train"]) == ["lr", "epochs", "name"]
    assert resolved["clean"] == {"threshold": 0.5}


def test_from_the_stage_decorator(tmp_path: Path) -> None:
    @stage(outs=["model.pkl"])
    def train(
        lr: float = 0.01, layers: tuple[int, ...] = (64, 64), tag: str | None = None
    ) -> None: ...

    spec = spec_of(train)
    assert spec is not None
    (tmp_path / "params.yaml").write_text("train:\n  lr: 1\n  layers: [8]\n")
    resolved = resolve_params({"train": spec}, load_params_file(tmp_path), [])
    assert resolved == {"train": {"lr": 1.0, "layers": [8], "tag": None}}
    assert type(resolved["train"]["lr"]) is float


def test_resolved_values_are_fresh_copies() -> None:
    default = [1, [2]]
    spec = make_spec("s", ("xs", default, list[Any]))
    resolved = resolve_params({"s": spec}, {}, [])
    resolved["s"]["xs"][1].append(3)
    assert default == [1, [2]]


def test_tuple_defaults_become_lists() -> None:
    spec = make_spec(
        "s", ("shape", (1, (2, 3)), tuple[int, tuple[int, int]]), ("d", {"a": ()}, dict)
    )
    assert resolve_params({"s": spec}, {}, []) == {"s": {"shape": [1, [2, 3]], "d": {"a": []}}}


# --- resolve_params: unknown names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_values", "overrides", "expected"),
    [
        ({"trian": {}}, [], "params.yaml: unknown stage 'trian' (did you mean 'train'?)"),
        (
            {"zzz": {"lr": 1}},
            [],
            "params.yaml: unknown stage 'zzz' (run 'fastpipe list' to see the stages)",
        ),
        (
            {"train": {"lrr": 1}},
            [],
            "params.yaml: stage 'train' has no param 'lrr' (did you mean 'lr'?)",
        ),
        (
            {"train": {"zzz": 1}},
            [],
            "params.yaml: stage 'train' has no param 'zzz' (its params: lr, epochs, name)",
        ),
        ({}, ["trian.lr=1"], "--set trian.lr: unknown stage 'trian' (did you mean 'train'?)"),
        ({}, ["train.lrr=1"], "--set train.lrr: stage 'train' has no param 'lrr' (did you mean"),
        ({}, ["empty.x=1"], "--set empty.x: stage 'empty' has no param 'x' (it has no params)"),
    ],
)
def test_unknown_stage_or_param(
    file_values: dict[str, dict[str, Any]], overrides: list[str], expected: str
) -> None:
    specs = {**SPECS, "empty": make_spec("empty")}
    with pytest.raises(ParamsError, match=f"^{re.escape(expected)}"):
        resolve_params(specs, file_values, [parse_override(text) for text in overrides])


# --- resolve_params: wrong values -------------------------------------------------------------


def test_set_value_of_the_wrong_type() -> None:
    with pytest.raises(
        ParamsError, match=re.escape("--set train.lr: expected float, got str 'fast'")
    ):
        resolve_params(SPECS, {}, [parse_override("train.lr=fast")])


def test_params_file_value_of_the_wrong_type() -> None:
    message = "params.yaml: train.epochs: expected int, got float 2.5"
    with pytest.raises(ParamsError, match=f"^{re.escape(message)}$"):
        resolve_params(SPECS, {"train": {"epochs": 2.5}}, [])


def test_values_that_are_not_plain_yaml() -> None:
    with pytest.raises(ParamsError, match=r"^--set train\.name: set \{'a'\} is not a plain YAML"):
        resolve_params(SPECS, {}, [parse_override("train.name=!!set {a}")])
    with pytest.raises(ParamsError, match=r"^params\.yaml: train\.name: bytes b'x' is not a plain"):
        resolve_params(SPECS, {"train": {"name": b"x"}}, [])


def test_a_value_holding_itself_is_not_plain(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  name: &loop [1, *loop]\n")
    file_values = load_params_file(tmp_path)
    with pytest.raises(
        ParamsError, match=r"^params\.yaml: train\.name: list \[1, \[1, .*\]\] is not a plain YAML"
    ):
        resolve_params(SPECS, file_values, [])


def test_shared_yaml_anchors_are_fine(tmp_path: Path) -> None:
    spec = make_spec("s", ("pair", [], list[list[int]]))
    (tmp_path / "params.yaml").write_text("s:\n  pair: [&one [1], *one]\n")
    resolved = resolve_params({"s": spec}, load_params_file(tmp_path), [])
    assert resolved == {"s": {"pair": [[1], [1]]}}


def test_default_contradicting_its_annotation() -> None:
    spec = make_spec("train", ("epochs", 2.5, int))
    message = "stage 'train': param 'epochs' has default float 2.5 but is annotated int; fix one"
    with pytest.raises(ParamsError, match=f"^{re.escape(message)}"):
        resolve_params({"train": spec}, {}, [])


@pytest.mark.parametrize("default", [object(), (1, {2}), {"a": b"x"}, {1: "a"}, Path("x")])
def test_default_that_is_not_plain_yaml(default: object) -> None:
    spec = make_spec("train", ("model", default, Any))
    expected = r"^stage 'train': param 'model' has default .*, which is not a plain YAML value"
    with pytest.raises(ParamsError, match=expected):
        resolve_params({"train": spec}, {}, [])


def test_every_stage_default_is_checked_even_without_overrides() -> None:
    bad = make_spec("bad", ("n", "ten", int))
    with pytest.raises(ParamsError, match="stage 'bad': param 'n'"):
        resolve_params({**SPECS, "bad": bad}, {}, [])


# --- type rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (float, 1, 1.0),
        (float, 0.5, 0.5),
        (int, 3, 3),
        (bool, False, False),
        (str, "x", "x"),
        (None, None, None),
        (type(None), None, None),
        (list[float], [1, 2.5], [1.0, 2.5]),
        (list, [1, "a"], [1, "a"]),
        (list[list[int]], [[1], []], [[1], []]),
        (dict[str, float], {"a": 1}, {"a": 1.0}),
        (dict, {"a": [1]}, {"a": [1]}),
        (tuple[int, ...], [1, 2, 3], [1, 2, 3]),
        (tuple[int, str], [1, "a"], [1, "a"]),
        (tuple, ["a", 1], ["a", 1]),
        (int | None, None, None),
        (int | None, 3, 3),
        (Optional[float], 2, 2.0),  # noqa: UP045 -- the typing spelling must work too
        (Union[int, str], "a", "a"),  # noqa: UP007 -- the typing spelling must work too
        (int | float, 1, 1),
        (float | int, 1, 1),
        (float | str, 1, 1.0),
        (list[float] | None, [1], [1.0]),
        (Literal["a", "b"], "b", "b"),
        (Literal[1, 2], 2, 2),
        (Annotated[float, "units"], 1, 1.0),
        (Any, {"x": [1]}, {"x": [1]}),
        ("float", "not checked", "not checked"),
        (T, "x", "x"),
        (Path, "x", "x"),
        (inspect.Parameter.empty, [1], [1]),
        (Unequal(), 1, 1),
    ],
)
def test_accepted_values(annotation: Any, value: Any, expected: Any) -> None:
    for result in (
        resolved_default(annotation, value),
        resolved_override(annotation, value, value),
    ):
        assert result == expected
        assert repr(result) == repr(expected)  # 1 == 1.0, but their types must match too


@pytest.mark.parametrize(
    ("annotation", "default", "value", "expected"),
    [
        (int, 1, True, "expected int, got bool True"),
        (float, 1.0, False, "expected float, got bool False"),
        (int, 1, 1.0, "expected int, got float 1.0"),
        (bool, True, 1, "expected bool, got int 1"),
        (str, "", 1, "expected str, got int 1"),
        (float, 1.0, None, "expected float, got None"),
        (None, None, 0, "expected None, got int 0"),
        (float, 1.0, 10**400, "expected float, got int"),
        (list[int], [], [1, "a"], "expected list[int], got list [1, 'a']"),
        (list[int], [], {"a": 1}, "expected list[int], got dict {'a': 1}"),
        (dict[str, int], {}, {"a": 1.5}, "expected dict[str, int], got dict {'a': 1.5}"),
        (dict, {}, [1], "expected dict, got list [1]"),
        (tuple[int, int], (1, 2), [1], "expected tuple[int, int], got list [1]"),
        (tuple[int, ...], (), [1, None], "expected tuple[int, ...], got list [1, None]"),
        (int | None, None, "x", "expected int | None, got str 'x'"),
        (Optional[int], None, 1.5, "expected Optional[int], got float 1.5"),  # noqa: UP045
        (Literal["a", "b"], "a", "c", "expected Literal['a', 'b'], got str 'c'"),
        (Literal[1], 1, True, "expected Literal[1], got bool True"),
    ],
)
def test_rejected_values(annotation: Any, default: Any, value: Any, expected: str) -> None:
    with pytest.raises(ParamsError) as caught:
        resolved_override(annotation, default, value)
    assert str(caught.value).startswith(f"--set t.p: {expected}")


# --- is_yaml_value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, 0, 1.5, float("nan"), "s", [], {}, [1, ["a", {"k": None}]], {"a": {"b": [1.0]}}],
)
def test_yaml_values(value: object) -> None:
    assert is_yaml_value(value)


@pytest.mark.parametrize(
    "value", [(1,), {1}, b"x", {1: "a"}, [object()], {"a": (1,)}, Path("p"), 1j]
)
def test_not_yaml_values(value: object) -> None:
    assert not is_yaml_value(value)


def test_a_list_holding_itself_is_not_a_yaml_value() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    assert not is_yaml_value(loop)
    assert not is_yaml_value({"a": loop})
    spec = make_spec("s", ("loop", (1, loop), Any))
    with pytest.raises(ParamsError, match=r"param 'loop' has default tuple .* not a plain YAML"):
        resolve_params({"s": spec}, {}, [])
